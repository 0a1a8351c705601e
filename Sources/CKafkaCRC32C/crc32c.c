// CRC32C with the CPU's own instruction. Kafka puts a CRC32C over every record batch, so producers and consumers
// compute it over every byte they move; the instruction is several times faster than table lookups.

#include "CKafkaCRC32C.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int sluice_crc32c_hardware_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2")))
uint32_t sluice_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t state = (uint32_t)~crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        state = _mm_crc32_u64(state, word);
        p += 8;
        count -= 8;
    }
    uint32_t state32 = (uint32_t)state;
    while (count > 0) {
        state32 = _mm_crc32_u8(state32, *p);
        p += 1;
        count -= 1;
    }
    return ~state32;
}

#else

int sluice_crc32c_hardware_available(void) {
    return 0;
}

uint32_t sluice_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t count) {
    (void)bytes;
    (void)count;
    return crc;
}

#endif
