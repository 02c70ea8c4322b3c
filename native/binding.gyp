{
  "targets": [
    {
      "target_name": "blit_native",
      "sources": [
        "blit_native.cc",
        "board.cc",
        "common.cc",
        "copy.cc",
        "copy_pool.cc",
        "fresh.cc",
        "land.cc",
        "data_socket.cc",
        "listing.cc",
        "manifest.cc",
        "sparse.cc",
        "special_file.cc",
        "stage.cc",
        "huge_buffer.cc",
        "notify.cc",
        "prefault.cc",
        "owner.cc",
        "read_ahead.cc",
        "read_checked.cc",
        "test_rules.cc",
        "uring.cc",
        "watchdog.cc",
        "whole_dir.cc",
        "xattr.cc",
        "beneath.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      # -fno-gnu-unique: GCC's unique symbols would keep the addon loaded by accident; its own pin
      # (prefault.cc) does, and test/integration/prefault.test.ts checks it.
      "cflags_cc": ["-std=c++17", "-O2", "-fno-gnu-unique"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17" }
    }
  ]
}
