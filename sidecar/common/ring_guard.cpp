#include "ring_guard.hpp"

#include <atomic>
#include <csignal>
#include <cstdint>

#include <sys/mman.h>

namespace aerolog::common::guard {
namespace {

struct Slot {
  std::atomic<std::uintptr_t> base{0};
  std::atomic<std::size_t> len{0};
  std::atomic<bool> faulted{false};
};
constexpr int kSlots = 1024;
Slot g_slots[kSlots];

void on_sigbus(int, siginfo_t* si, void*) {
  const auto a = reinterpret_cast<std::uintptr_t>(si->si_addr);
  for (Slot& s : g_slots) {
    const std::uintptr_t b = s.base.load(std::memory_order_acquire);
    if (b && a >= b && a < b + s.len.load(std::memory_order_relaxed)) {
      void* m = ::mmap(reinterpret_cast<void*>(b), s.len.load(), PROT_READ | PROT_WRITE,
                       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) break;  // cannot patch the hole: die as usual
      s.faulted.store(true, std::memory_order_release);
      return;  // the faulting load is retried and now reads zeros
    }
  }
  std::signal(SIGBUS, SIG_DFL);  // not a ring: a real bug, die as usual
  std::raise(SIGBUS);
}

std::atomic<bool> g_installed{false};

}  // namespace

bool installed() { return g_installed.load(); }

void install() {
  g_installed.store(true);
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, nullptr);
}

int add(void* base, std::size_t len) {
  for (int i = 0; i < kSlots; ++i) {
    std::uintptr_t expected = 0;
    if (g_slots[i].base.load() == 0) {
      g_slots[i].len.store(len);
      g_slots[i].faulted.store(false);
      if (g_slots[i].base.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(base))) return i;
    }
  }
  return -1;
}

void remove(int slot) {
  if (slot >= 0) g_slots[slot].base.store(0, std::memory_order_release);
}

bool faulted(int slot) { return slot >= 0 && g_slots[slot].faulted.load(std::memory_order_acquire); }

}  // namespace aerolog::common::guard
