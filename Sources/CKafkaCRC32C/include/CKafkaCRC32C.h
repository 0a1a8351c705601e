#ifndef C_KAFKA_CRC32C_H
#define C_KAFKA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC32C instruction the functions below use (SSE4.2 on x86-64).
int sluice_crc32c_hardware_available(void);

/// Continues a CRC32C (Castagnoli) over `count` bytes, with the CPU's instruction: `crc` is a finished checksum
/// (0 to start), and so is the result. Call only when `sluice_crc32c_hardware_available()` says so.
uint32_t sluice_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t count);

#endif
