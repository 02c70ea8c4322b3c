// V8's heap pages made present in one step as V8 commits them, instead of one page fault per 4 KiB.
//
// V8 reserves each 256 KiB page of its heap inaccessible and commits it with mprotect(READ|WRITE)
// when it needs it; each 4 KiB of it then costs a page fault at its first write. On the VMs this
// project measures on, a fault is dear: a C loop touching committed 256 KiB regions page by page
// took 12.2-12.6 µs a page, with madvise(MADV_POPULATE_WRITE) first 7.1 µs; a remote push of
// 20,000 files took ~7,600 faults in the client's main thread, ~6,150 of them in V8's pages
// (docs/DECISIONS.md "V8's heap pages made present in one step"). So the process's calls of
// mprotect through its objects' imports — V8's, in Node's binary or libnode — are routed here, and
// a region of 64 KiB to 1 MiB made readable and writable (V8's pages; glibc's own calls, thread
// stacks among them, go through its internal __mprotect and are never routed) is made present by
// the kernel in one call after the mprotect succeeded.
//
// How they are routed: each loaded object's import of mprotect (a GOT slot, its JUMP_SLOT or
// GLOB_DAT relocation) that holds glibc's mprotect is pointed at PrefaultingMprotect, which makes
// the system call itself. A slot in the pages glibc made read-only after relocating (RELRO) is
// made writable for the store and read-only again, as the loader left it. Anything unexpected —
// no dynamic section, a slot that holds something else (a lazy binding not yet resolved, a hook
// of another tool's), a slot neither in RELRO nor in a writable segment, not Linux with glibc —
// leaves that slot as it was. Nothing is routed when the kernel cannot populate (before 5.14, or
// a filter refusing madvise: one 64 KiB probe at install says), nor when this object could not be
// pinned (a routed slot must never point into an unloaded addon: Node unloads a worker's addons),
// nor with BLIT_NO_PREFAULT=1 (tests compare with it). Once routed, a failed populate is ignored.
//
// Calls made before this addon loads fault as before: bin/blit.js loads the addon first thing for
// a remote command, so the bundles' code caches deserialise into populated pages. Not thread-safe
// against another thread's dlopen during install (the loader could protect a page this made
// writable); blit loads no other object then.

#include "prefault.h"

#include "common.h"

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
#include <sys/syscall.h>
#define BLIT_PREFAULT_ROUTES 1
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace blit {
namespace {

constexpr size_t kLeastPopulated = 64 * 1024;
constexpr size_t kMostPopulated = 1024 * 1024;

std::atomic<uint64_t> g_populatedBytes{0};
std::once_flag g_installOnce;
int g_routedSites = 0;

#ifdef BLIT_PREFAULT_ROUTES

// mprotect as the system call (glibc's mprotect is its wrapper), never through a GOT slot.
int SystemMprotect(void* addr, size_t len, int prot) {
  return static_cast<int>(syscall(SYS_mprotect, addr, len, prot));
}

int PrefaultingMprotect(void* addr, size_t len, int prot) {
  int result = SystemMprotect(addr, len, prot);
  if (result == 0 && prot == (PROT_READ | PROT_WRITE) && len >= kLeastPopulated && len <= kMostPopulated) {
    int saved = errno;
    if (madvise(addr, len, MADV_POPULATE_WRITE) == 0) g_populatedBytes.fetch_add(len, std::memory_order_relaxed);
    errno = saved;
  }
  return result;
}

// Whether this kernel populates on request (MADV_POPULATE_WRITE: Linux 5.14).
bool PopulateWorks() {
  void* probe = mmap(nullptr, kLeastPopulated, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe == MAP_FAILED) return false;
  bool works = madvise(probe, kLeastPopulated, MADV_POPULATE_WRITE) == 0;
  munmap(probe, kLeastPopulated);
  return works;
}

#if defined(__x86_64__)
constexpr uint32_t kJumpSlot = R_X86_64_JUMP_SLOT;
constexpr uint32_t kGlobDat = R_X86_64_GLOB_DAT;
#else
constexpr uint32_t kJumpSlot = R_AARCH64_JUMP_SLOT;
constexpr uint32_t kGlobDat = R_AARCH64_GLOB_DAT;
#endif

// One loaded object, as its program headers and dynamic section describe it.
struct LoadedObject {
  ElfW(Addr) base = 0;
  const ElfW(Phdr)* phdr = nullptr;
  ElfW(Half) phnum = 0;
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  size_t strsz = 0;
};

// A dynamic-section address: glibc relocates most in place; the vDSO's and some others are not.
ElfW(Addr) DynamicAddress(const LoadedObject& object, ElfW(Addr) value) {
  return value < object.base ? object.base + value : value;
}

// Whether the slot's page is one the loader made read-only (glibc's _dl_protect_relro rounds
// both ends of PT_GNU_RELRO down to pages), writable (in a writable PT_LOAD, not protected), or
// neither, as far as the headers say.
enum class SlotPage { kReadOnly, kWritable, kUnknown };

SlotPage PageOf(const LoadedObject& object, uintptr_t slot, uintptr_t pageSize) {
  uintptr_t page = slot & ~(pageSize - 1);
  bool writableSegment = false;
  for (ElfW(Half) i = 0; i < object.phnum; i++) {
    const ElfW(Phdr)& ph = object.phdr[i];
    uintptr_t start = object.base + ph.p_vaddr;
    uintptr_t end = start + ph.p_memsz;
    if (ph.p_type == PT_GNU_RELRO) {
      uintptr_t protectedStart = start & ~(pageSize - 1);
      uintptr_t protectedEnd = end & ~(pageSize - 1);
      if (page >= protectedStart && page + pageSize <= protectedEnd) return SlotPage::kReadOnly;
    }
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) != 0 && slot >= start && slot + sizeof(void*) <= end) {
      writableSegment = true;
    }
  }
  return writableSegment ? SlotPage::kWritable : SlotPage::kUnknown;
}

bool WriteSlot(const LoadedObject& object, void** slot, void* value) {
  uintptr_t pageSize = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  SlotPage kind = PageOf(object, reinterpret_cast<uintptr_t>(slot), pageSize);
  if (kind == SlotPage::kUnknown) return false;
  void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(slot) & ~(pageSize - 1));
  if (kind == SlotPage::kReadOnly && SystemMprotect(page, pageSize, PROT_READ | PROT_WRITE) != 0) return false;
  __atomic_store_n(slot, value, __ATOMIC_RELEASE);
  if (kind == SlotPage::kReadOnly) SystemMprotect(page, pageSize, PROT_READ);
  return true;
}

// Routes the object's imports of mprotect found in one relocation table; returns how many.
int RouteTable(const LoadedObject& object, ElfW(Addr) table, size_t bytes, void* glibcMprotect) {
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
    if (*slot != glibcMprotect) continue;
    if (WriteSlot(object, slot, reinterpret_cast<void*>(&PrefaultingMprotect))) routed++;
  }
  return routed;
}

// Whether the object holds the given code address (this addon holds PrefaultingMprotect).
bool Holds(const struct dl_phdr_info* info, uintptr_t address) {
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && address >= start && address < start + ph.p_memsz) return true;
  }
  return false;
}

int RouteObject(struct dl_phdr_info* info, size_t, void* glibcMprotect) {
  // This addon's own calls stay direct.
  if (Holds(info, reinterpret_cast<uintptr_t>(&PrefaultingMprotect))) return 0;
  LoadedObject object;
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
      case DT_JMPREL: jmprel = DynamicAddress(object, d->d_un.d_ptr); break;
      case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
      case DT_PLTREL: pltIsRela = d->d_un.d_val == DT_RELA; break;
      case DT_RELA: rela = DynamicAddress(object, d->d_un.d_ptr); break;
      case DT_RELASZ: relasz = d->d_un.d_val; break;
      case DT_SYMTAB: object.symtab = reinterpret_cast<const ElfW(Sym)*>(DynamicAddress(object, d->d_un.d_ptr)); break;
      case DT_STRTAB: object.strtab = reinterpret_cast<const char*>(DynamicAddress(object, d->d_un.d_ptr)); break;
      case DT_STRSZ: object.strsz = d->d_un.d_val; break;
      default: break;
    }
  }
  if (object.symtab == nullptr || object.strtab == nullptr || !pltIsRela) return 0;
  g_routedSites += RouteTable(object, jmprel, pltrelsz, glibcMprotect) + RouteTable(object, rela, relasz, glibcMprotect);
  return 0;
}

#endif  // BLIT_PREFAULT_ROUTES

void Install() {
#ifdef BLIT_PREFAULT_ROUTES
  // Pinned first, whatever follows: never unloaded (Node unloads the addons of a worker that ends),
  // so no routed slot can outlive PrefaultingMprotect, nor a pool's thread its code.
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&PrefaultingMprotect), &self) == 0 || self.dli_fname == nullptr) return;
  if (dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) == nullptr) return;
  if (EnvIsOne("BLIT_NO_PREFAULT")) return;
  if (!PopulateWorks()) return;
  // glibc's mprotect, as this object resolved it: what a slot to route holds.
  dl_iterate_phdr(RouteObject, reinterpret_cast<void*>(&::mprotect));
#endif
}

}  // namespace

void InstallPrefault() {
  std::call_once(g_installOnce, Install);
}

Napi::Value PrefaultState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object state = Napi::Object::New(env);
  state.Set("sites", Napi::Number::New(env, g_routedSites));
  state.Set("bytes", Napi::Number::New(env, static_cast<double>(g_populatedBytes.load(std::memory_order_relaxed))));
  return state;
}

}  // namespace blit
