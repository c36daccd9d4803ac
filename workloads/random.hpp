// A small, portable random number generator (xoshiro256**, seeded by splitmix64) so that the
// same seed gives the same tensors on every platform and standard library.
#pragma once

#include <cstdint>

namespace nmp::workloads {

class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits
  double normal();   // standard normal, Box-Muller

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace nmp::workloads
