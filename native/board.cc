// See board.h.

#include "board.h"

#include <algorithm>
#include <cstring>

namespace blit {

int32_t* CancelFlag(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsTypedArray()) return nullptr;
  auto array = info[index].As<Napi::Int32Array>();
  return array.ElementLength() > kCancelled ? array.Data() + kCancelled : nullptr;
}

void SetSlot(uint8_t* slots, size_t slotsLength, size_t slot, const std::string& text) {
  if (!slots || (slot + 1) * kSlotBytes > slotsLength) return;
  uint8_t* base = slots + slot * kSlotBytes;
  size_t n = std::min(text.size(), kSlotBytes - 2);
  memcpy(base + 2, text.data(), n);
  base[0] = static_cast<uint8_t>(n & 0xff);
  base[1] = static_cast<uint8_t>(n >> 8);
}

}  // namespace blit
