// V8's heap pages made present in one step as V8 commits them, instead of one page fault per 4 KiB.
//
// V8 reserves each 256 KiB page of its heap inaccessible and commits it with mprotect(READ|WRITE)
// when it needs it; each 4 KiB of it then costs a page fault at its first write. On the VMs this
// project measures on, a fault is dear: a C loop touching committed 256 KiB regions page by page
// took 12.2-12.6 µs a page, with madvise(MADV_POPULATE_WRITE) first 7.1 µs; a remote push of
// 20,000 files took ~7,700 faults in the client, ~6,000 of them in V8's pages (docs/DECISIONS.md).
// So the process's calls of mprotect — V8's, which Node links against glibc's — are routed here,
// and a region made readable and writable of 64 KiB to 1 MiB (V8's pages; not thread stacks,
// which are 8 MiB) is made present by the kernel in one call after the mprotect succeeded.
//
// How they are routed: each loaded object's import of mprotect (a GOT slot, its JUMP_SLOT or
// GLOB_DAT relocation) that holds glibc's mprotect is pointed at PrefaultingMprotect, which calls
// glibc's. A slot in an object's RELRO pages (read-only once the loader relocated them) is made
// writable for the store and read-only again, as the loader left it. Anything unexpected — no
// dynamic section, a slot that holds something else (another interposer, a lazy binding not yet
// resolved), a slot neither in RELRO nor in a writable segment, not Linux with glibc — leaves that
// slot as it was. This addon's own calls stay direct. A kernel without MADV_POPULATE_WRITE (before
// 5.14) answers EINVAL; populating then stops and mprotect is only mprotect. BLIT_NO_PREFAULT=1
// routes nothing (tests compare with it).
//
// Calls made before this addon loads fault as before: bin/blit.js loads the addon first thing for
// the commands that use it, so the bundles' code caches deserialise into populated pages.

#include "prefault.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <sys/mman.h>
#include <unistd.h>

#if defined(__linux__) && defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#define BLIT_PREFAULT_ROUTES 1
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace blit {
namespace {

using MprotectFn = int (*)(void*, size_t, int);

// glibc's mprotect, as this object resolved it (its own slot is never routed).
MprotectFn const realMprotect = &::mprotect;
constexpr size_t kLeast = 64 * 1024;
constexpr size_t kMost = 1024 * 1024;

std::atomic<bool> populating{true};
std::atomic<uint64_t> populatedBytes{0};
std::once_flag installOnce;
int routedSites = 0;

int PrefaultingMprotect(void* addr, size_t len, int prot) {
  int result = realMprotect(addr, len, prot);
  if (result == 0 && prot == (PROT_READ | PROT_WRITE) && len >= kLeast && len <= kMost &&
      populating.load(std::memory_order_relaxed)) {
    int saved = errno;
    if (madvise(addr, len, MADV_POPULATE_WRITE) == 0) {
      populatedBytes.fetch_add(len, std::memory_order_relaxed);
    } else if (errno == EINVAL) {
      populating.store(false, std::memory_order_relaxed);
    }
    errno = saved;
  }
  return result;
}

#ifdef BLIT_PREFAULT_ROUTES

#if defined(__x86_64__)
constexpr uint32_t kJumpSlot = R_X86_64_JUMP_SLOT;
constexpr uint32_t kGlobDat = R_X86_64_GLOB_DAT;
#else
constexpr uint32_t kJumpSlot = R_AARCH64_JUMP_SLOT;
constexpr uint32_t kGlobDat = R_AARCH64_GLOB_DAT;
#endif

// One loaded object, as its program headers and dynamic section describe it.
struct Object {
  ElfW(Addr) base = 0;
  const ElfW(Phdr)* phdr = nullptr;
  ElfW(Half) phnum = 0;
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  size_t strsz = 0;
};

// A dynamic-section address: glibc relocates most in place; the vDSO's and some others are not.
ElfW(Addr) Absolute(const Object& object, ElfW(Addr) value) {
  return value < object.base ? object.base + value : value;
}

// Whether the slot's page is one the loader made read-only (glibc's _dl_protect_relro rounds
// both ends of PT_GNU_RELRO down to pages), writable (in a writable PT_LOAD, not protected), or
// neither, as far as the headers say.
enum class Page { kReadOnly, kWritable, kUnknown };

Page PageOf(const Object& object, uintptr_t slot, uintptr_t pageSize) {
  uintptr_t page = slot & ~(pageSize - 1);
  bool writableSegment = false;
  for (ElfW(Half) i = 0; i < object.phnum; i++) {
    const ElfW(Phdr)& ph = object.phdr[i];
    uintptr_t start = object.base + ph.p_vaddr;
    uintptr_t end = start + ph.p_memsz;
    if (ph.p_type == PT_GNU_RELRO) {
      uintptr_t protectedStart = start & ~(pageSize - 1);
      uintptr_t protectedEnd = end & ~(pageSize - 1);
      if (page >= protectedStart && page + pageSize <= protectedEnd) return Page::kReadOnly;
    }
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) != 0 && slot >= start && slot + sizeof(void*) <= end) {
      writableSegment = true;
    }
  }
  return writableSegment ? Page::kWritable : Page::kUnknown;
}

bool Store(const Object& object, void** slot, void* value) {
  uintptr_t pageSize = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  Page kind = PageOf(object, reinterpret_cast<uintptr_t>(slot), pageSize);
  if (kind == Page::kUnknown) return false;
  void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(slot) & ~(pageSize - 1));
  if (kind == Page::kReadOnly && realMprotect(page, pageSize, PROT_READ | PROT_WRITE) != 0) return false;
  __atomic_store_n(slot, value, __ATOMIC_RELEASE);
  if (kind == Page::kReadOnly) realMprotect(page, pageSize, PROT_READ);
  return true;
}

// Routes the object's imports of mprotect found in one relocation table; returns how many.
int RouteTable(const Object& object, ElfW(Addr) table, size_t bytes) {
  if (table == 0 || bytes == 0) return 0;
  const auto* rela = reinterpret_cast<const ElfW(Rela)*>(table);
  int routed = 0;
  for (size_t i = 0; i < bytes / sizeof(ElfW(Rela)); i++) {
    uint32_t type = ELF64_R_TYPE(rela[i].r_info);
    uint32_t index = ELF64_R_SYM(rela[i].r_info);
    if ((type != kJumpSlot && type != kGlobDat) || index == 0) continue;
    const ElfW(Sym)& symbol = object.symtab[index];
    if (symbol.st_shndx != SHN_UNDEF || symbol.st_name >= object.strsz) continue;  // imports only
    if (std::strcmp(object.strtab + symbol.st_name, "mprotect") != 0) continue;
    auto** slot = reinterpret_cast<void**>(object.base + rela[i].r_offset);
    if (*slot != reinterpret_cast<void*>(realMprotect)) continue;
    if (Store(object, slot, reinterpret_cast<void*>(&PrefaultingMprotect))) routed++;
  }
  return routed;
}

int RouteObject(struct dl_phdr_info* info, size_t, void* data) {
  auto* self = static_cast<ElfW(Addr)*>(data);
  if (info->dlpi_addr == *self) return 0;
  Object object;
  object.base = info->dlpi_addr;
  object.phdr = info->dlpi_phdr;
  object.phnum = info->dlpi_phnum;
  const ElfW(Dyn)* dynamic = nullptr;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) {
      dynamic = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    }
  }
  if (dynamic == nullptr) return 0;
  ElfW(Addr) jmprel = 0, rela = 0;
  size_t pltrelsz = 0, relasz = 0;
  bool pltIsRela = true;
  for (const ElfW(Dyn)* d = dynamic; d->d_tag != DT_NULL; d++) {
    switch (d->d_tag) {
      case DT_JMPREL: jmprel = Absolute(object, d->d_un.d_ptr); break;
      case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
      case DT_PLTREL: pltIsRela = d->d_un.d_val == DT_RELA; break;
      case DT_RELA: rela = Absolute(object, d->d_un.d_ptr); break;
      case DT_RELASZ: relasz = d->d_un.d_val; break;
      case DT_SYMTAB: object.symtab = reinterpret_cast<const ElfW(Sym)*>(Absolute(object, d->d_un.d_ptr)); break;
      case DT_STRTAB: object.strtab = reinterpret_cast<const char*>(Absolute(object, d->d_un.d_ptr)); break;
      case DT_STRSZ: object.strsz = d->d_un.d_val; break;
      default: break;
    }
  }
  if (object.symtab == nullptr || object.strtab == nullptr || !pltIsRela) return 0;
  routedSites += RouteTable(object, jmprel, pltrelsz) + RouteTable(object, rela, relasz);
  return 0;
}

#endif  // BLIT_PREFAULT_ROUTES

void Install() {
  const char* off = std::getenv("BLIT_NO_PREFAULT");
  if (off != nullptr && std::strcmp(off, "1") == 0) return;
#ifdef BLIT_PREFAULT_ROUTES
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&PrefaultingMprotect), &self) == 0) return;
  auto selfBase = reinterpret_cast<ElfW(Addr)>(self.dli_fbase);
  dl_iterate_phdr(RouteObject, &selfBase);
#endif
}

}  // namespace

int InstallPrefault() {
  std::call_once(installOnce, Install);
  return routedSites;
}

Napi::Value PrefaultState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object state = Napi::Object::New(env);
  state.Set("sites", Napi::Number::New(env, routedSites));
  state.Set("bytes", Napi::Number::New(env, static_cast<double>(populatedBytes.load(std::memory_order_relaxed))));
  return state;
}

}  // namespace blit
