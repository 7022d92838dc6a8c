/* The x86 instructions the test guest uses, as small inline functions: port I/O, LAPIC MMIO,
 * the time stamp counter and the locked instructions the workloads exercise. Each is written as
 * explicit asm so that the instruction under test is exactly the one named. */
#ifndef TESTGUEST_X86_H
#define TESTGUEST_X86_H

#include <stdbool.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;
	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
	return value;
}

static inline uint32_t mmio_read32(uintptr_t addr)
{
	uint32_t value;
	__asm__ volatile("movl (%1), %0" : "=r"(value) : "r"(addr) : "memory");
	return value;
}

static inline void mmio_write32(uintptr_t addr, uint32_t value)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(value), "r"(addr) : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline void mfence(void)
{
	__asm__ volatile("mfence" : : : "memory");
}

static inline void compiler_barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

/* lock xadd: returns the value before the addition. */
static inline uint64_t atomic_fetch_add(volatile uint64_t *p, uint64_t add)
{
	__asm__ volatile("lock xaddq %0, %1" : "+r"(add), "+m"(*p) : : "memory");
	return add;
}

/* lock cmpxchg: true if *p held `expected` and now holds `desired`. */
static inline bool atomic_compare_exchange(volatile uint64_t *p, uint64_t expected,
					   uint64_t desired)
{
	bool swapped;
	__asm__ volatile("lock cmpxchgq %3, %1"
			 : "+a"(expected), "+m"(*p), "=@ccz"(swapped)
			 : "r"(desired)
			 : "memory");
	return swapped;
}

/* xchg with memory is always locked: returns the old value. */
static inline uint32_t atomic_exchange32(volatile uint32_t *p, uint32_t value)
{
	__asm__ volatile("xchgl %0, %1" : "+r"(value), "+m"(*p) : : "memory");
	return value;
}

#endif
