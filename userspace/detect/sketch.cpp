// Distinct ports and hosts from the XDP program's HyperLogLog registers
// (abi.h: SW_HLL_REGS 4-bit registers, ranks 1..SW_HLL_MAX_RANK).
//
// The estimator is Ertl's improved raw estimator ("New cardinality estimation
// algorithms for HyperLogLog sketches", 2017, algorithm 6), from the register
// histogram alone: no empirical bias tables, no switch between linear counting
// and the raw estimate. sigma() carries the small range (it is linear counting
// when few registers are set, so small counts come out nearly exact) and tau()
// the registers at the cap (rank 15 holds every hash whose 14 rank bits are 0).
#include <cmath>

#include "scanwatch/detector.hpp"

namespace scanwatch {
namespace {

constexpr unsigned kQ = SW_HLL_MAX_RANK - 1;  // rank bits; the top register value is kQ + 1

// sigma(x) = x + sum_k x^(2^k) 2^(k-1), x in [0, 1)
double sigma(double x) {
    if (x == 1.0)
        return INFINITY;
    double y = 1, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

// tau(x) = (1 - x - sum_k (1 - x^(2^-k))^2 2^-k) / 3, x in [0, 1]
double tau(double x) {
    if (x == 0.0 || x == 1.0)
        return 0;
    double y = 1, z = 1 - x, prev;
    do {
        x = std::sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
    } while (z != prev);
    return z / 3;
}

}  // namespace

unsigned hll_register(const __u64* words, uint32_t reg) {
    return static_cast<unsigned>((words[reg / 16] >> ((reg % 16) * 4)) & 15);
}

double hll_estimate(const __u64* words) {
    unsigned hist[kQ + 2] = {};
    for (uint32_t i = 0; i < SW_HLL_REGS; i++)
        hist[hll_register(words, i)]++;
    const double m = SW_HLL_REGS;
    if (hist[0] == SW_HLL_REGS)
        return 0;
    // every register at the cap: as if one were just below it (no division by 0)
    const double capped = hist[kQ + 1] == SW_HLL_REGS ? m - 0.5 : hist[kQ + 1];
    double z = m * tau(1 - capped / m);
    for (unsigned k = kQ; k >= 1; k--)
        z = 0.5 * (z + hist[k]);
    z += m * sigma(hist[0] / m);
    return m * m / (2 * std::log(2.0)) / z;
}

void hll_add(__u64* words, uint32_t h) {
    const uint32_t reg = sw_hll_reg(h);
    const uint64_t rank = sw_hll_rank(h);
    __u64& w = words[reg / 16];
    const unsigned shift = (reg % 16) * 4;
    if (((w >> shift) & 15) < rank)
        w = (w & ~(uint64_t{15} << shift)) | (rank << shift);
}

uint64_t distinct_ports(const sw_source& rec) {
    return static_cast<uint64_t>(std::llround(hll_estimate(rec.ports)));
}

uint64_t distinct_hosts(const sw_source& rec) {
    return static_cast<uint64_t>(std::llround(hll_estimate(rec.hosts)));
}

bool port_probed(const sw_source& rec, uint16_t port, uint8_t proto) {
    const uint32_t h = sw_port_hash(port, proto);
    return hll_register(rec.ports, sw_hll_reg(h)) >= sw_hll_rank(h);
}

unsigned port_registers(const sw_source& rec) {
    unsigned n = 0;
    for (uint32_t i = 0; i < SW_HLL_REGS; i++)
        n += hll_register(rec.ports, i) != 0;
    return n;
}

}  // namespace scanwatch
