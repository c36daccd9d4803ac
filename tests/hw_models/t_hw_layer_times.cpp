// A run's time by layer (hw_models/cycles.hpp): every entry into a layer counts, a layer's
// start is its first entry, and the layers' cycles add up to the run's.
#include <catch2/catch.hpp>

#include "hw_models/cycles.hpp"

using namespace nmp::hw;

TEST_CASE("each layer's cycles are its stretches from every entry to the next, summed",
          "[hw_models]") {
  // Layer 0 before the first `layer` instruction; then a loop enters layers 1 and 2 twice.
  std::vector<LayerEntry> entries{kFirstEntry};
  enter_layer(entries, 0, 4);  // the same layer: no new entry
  enter_layer(entries, 1, 10);
  enter_layer(entries, 2, 15);
  enter_layer(entries, 1, 20);
  enter_layer(entries, 2, 26);
  REQUIRE(entries.size() == 5);
  const std::vector<LayerTime> t = layer_times(entries, 30);
  REQUIRE(t.size() == 3);
  CHECK(t[0].start == 0);
  CHECK(t[0].cycles == 10);
  CHECK(t[1].start == 10);
  CHECK(t[1].cycles == 5 + 6);
  CHECK(t[2].start == 15);
  CHECK(t[2].cycles == 5 + 4);
  CHECK(t[0].cycles + t[1].cycles + t[2].cycles == 30);
  // A layer never entered has no time; one entered later than others keeps its first start.
  entries.push_back({4, 31});
  const std::vector<LayerTime> u = layer_times(entries, 40);
  REQUIRE(u.size() == 5);
  CHECK(u[3].cycles == 0);
  CHECK(u[4].start == 31);
  CHECK(u[2].cycles == 5 + 5);
}
