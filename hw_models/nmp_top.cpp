#include "hw_models/nmp_top.hpp"

#include <algorithm>
#include <stdexcept>

namespace nmp::hw {
namespace {

// Cycles of simulated time the default mode may run ahead of SystemC time.
constexpr Cycles kTimeQuantum = 1 << 16;
// How often lockstep mode checks for a deadlock (all units waiting on each other).
constexpr Cycles kLockstepDeadlockCheck = 1 << 12;

std::array<std::unique_ptr<Sram>, kNumSrams> make_srams(const NmpParams& p) {
  return {std::make_unique<Sram>(p.weight_sram, 0), std::make_unique<Sram>(p.act_sram, 1),
          std::make_unique<Sram>(p.acc_sram, 2)};
}

std::array<Sram*, kNumSrams> raw(const std::array<std::unique_ptr<Sram>, kNumSrams>& s) {
  return {s[0].get(), s[1].get(), s[2].get()};
}

// The vector unit converts the MAC array's accumulators, so it works in the array's PE kind.
VectorUnitParams vector_params(const NmpParams& p) {
  VectorUnitParams v = p.vector_unit;
  v.pe = p.mac_array.pe;
  v.accumulation = p.mac_array.float_accumulation;
  v.stored_format = p.dram.activation_format;
  return v;
}

}  // namespace

NmpTop::NmpTop(sc_core::sc_module_name name, const NmpParams& params, const isa::Program& program,
               ZeroPages dram_image, uint64_t unbacked_dram_bytes)
    : sc_module(name),
      params_(params),
      period_(1e6 / params.clock_mhz, sc_core::SC_PS),
      dram_(params.dram, std::move(dram_image), unbacked_dram_bytes),
      srams_(make_srams(params)),
      dma_("dma", dram_, raw(srams_), params.vector_unit.math.format,
           pe_info(params.mac_array.pe).element_format, params.controller.queue_depth, scoreboard_),
      mac_array_("mac_array", params.mac_array, raw(srams_), params.controller.queue_depth,
                 scoreboard_),
      vector_unit_("vector_unit", vector_params(params), raw(srams_), params.controller.queue_depth,
                   scoreboard_),
      controller_("controller", params.controller, program,
                  {nullptr, &dma_, &mac_array_, &vector_unit_}, scoreboard_),
      tick_order_{&controller_, &dma_, &vector_unit_, &mac_array_} {
  if (params_.lockstep) {
    clock_ = std::make_unique<sc_core::sc_clock>("clock", period_);
    SC_METHOD(step_lockstep);
    sensitive << clock_->posedge_event();
    dont_initialize();
  } else {
    SC_METHOD(step_default);
  }
}

void NmpTop::tick_all(Cycles now) {
  for (ClockedUnit* u : tick_order_) u->tick(now);
  if (timeline_) record_ports(now);
}

void NmpTop::record_ports(Cycles now) {
  // Exact in both modes: a unit's port classes change only in cycles that are ticked.
  for (const QueuedUnit* u :
       {static_cast<const QueuedUnit*>(&dma_), static_cast<const QueuedUnit*>(&mac_array_),
        static_cast<const QueuedUnit*>(&vector_unit_)}) {
    uint32_t& recorded = recorded_ports_[static_cast<size_t>(u->id())];
    if (u->sram_use() != recorded) {
      recorded = u->sram_use();
      timeline_->ports(u->id(), now + 1, recorded);
    }
  }
}

Cycles NmpTop::contention_free_cycles() const {
  std::array<uint32_t, kUnits> use{};
  uint32_t seen = 0;
  bool shared = false;
  for (size_t i = 0; i < kUnits; ++i) {
    use[i] = tick_order_[i]->sram_use();
    shared |= (use[i] & seen) != 0;
    seen |= use[i];
  }
  if (!shared) return kNever;
  Cycles free = kNever;
  for (size_t i = 0; i < kUnits; ++i) {
    for (size_t j = i + 1; j < kUnits; ++j) {
      if ((use[i] & use[j]) == 0) continue;
      // Each unit's idle cycles come first, so in every cycle before the later of the two
      // ends, at least one of them requests nothing.
      free = std::min(
          free, std::max(tick_order_[i]->sram_idle_cycles(), tick_order_[j]->sram_idle_cycles()));
    }
  }
  return free;
}

std::string NmpTop::state_summary() const {
  std::string s = "pc " + std::to_string(controller_.pc()) + ", controller stall reason " +
                  std::to_string(static_cast<int>(controller_.last_stall()));
  for (const QueuedUnit* u :
       {static_cast<const QueuedUnit*>(&dma_), static_cast<const QueuedUnit*>(&mac_array_),
        static_cast<const QueuedUnit*>(&vector_unit_)}) {
    s += "; " + std::string(isa::unit_name(u->id())) + (u->busy() ? " busy" : " idle") + ", " +
         std::to_string(u->queued()) + " queued";
  }
  return s;
}

void NmpTop::check_watchdogs(Cycles now) const {
  if (now >= params_.max_cycles) {
    throw SimulationError("watchdog: no halt within " + std::to_string(params_.max_cycles) +
                          " cycles (" + state_summary() + ")");
  }
  if (controller_.executed() > params_.max_instructions) {
    throw SimulationError("watchdog: more than " + std::to_string(params_.max_instructions) +
                          " instructions executed without a halt (" + state_summary() + ")");
  }
}

void NmpTop::finish(const std::string& error) {
  finished_ = true;
  cycles_ = now_;
  error_ = error;
  // The DRAM's background and refresh run to the end, counted to the last layer.
  dram_.finish(now_, layer_count() - 1);
}

void NmpTop::step_default() {
  if (finished_) return;
  try {
    while (unsynced_ < kTimeQuantum) {
      tick_all(now_);
      ++now_;
      ++unsynced_;
      if (controller_.halted()) {
        finish("");
        // One last activation brings SystemC time to cycles x period; it does not re-arm, so
        // the simulation then ends with no process pending.
        next_trigger(period_ * static_cast<double>(unsynced_));
        return;
      }
      check_watchdogs(now_);
      Cycles quiet = kNever;
      for (const ClockedUnit* u : tick_order_) quiet = std::min(quiet, u->quiet_cycles(now_));
      if (quiet == kNever) {
        throw SimulationError("deadlock at cycle " + std::to_string(now_) + ": every unit waits (" +
                              state_summary() + ")");
      }
      quiet = std::min(quiet, contention_free_cycles());
      if (quiet > 0) {
        quiet = std::min(quiet, params_.max_cycles - std::min(params_.max_cycles, now_));
        for (ClockedUnit* u : tick_order_) u->skip(now_, quiet);
        now_ += quiet;
        unsynced_ += quiet;
      }
    }
    next_trigger(period_ * static_cast<double>(unsynced_));
    unsynced_ = 0;
    if (progress_) progress_(now_, controller_.layer() + size_t{1});
  } catch (const SimulationError& e) {
    finish(e.what());
  }
}

void NmpTop::set_cycle_observer(std::function<void(Cycles)> observer) {
  if (!params_.lockstep) throw std::logic_error("a cycle observer needs lockstep mode");
  observer_ = std::move(observer);
  mac_array_.record_activity();
}

void NmpTop::set_timeline(Timeline* timeline) {
  timeline_ = timeline;
  controller_.set_timeline(timeline);
  dma_.set_timeline(timeline);
  mac_array_.set_timeline(timeline);
  vector_unit_.set_timeline(timeline);
  dram_.set_timeline(timeline);
}

void NmpTop::step_lockstep() {
  if (finished_) return;
  try {
    tick_all(now_);
    if (observer_) observer_(now_);
    ++now_;
    if (progress_ && now_ % kTimeQuantum == 0) progress_(now_, controller_.layer() + size_t{1});
    if (controller_.halted()) {
      finish("");
    } else {
      check_watchdogs(now_);
      if (now_ % kLockstepDeadlockCheck == 0) {
        bool all_wait = true;
        for (const ClockedUnit* u : tick_order_) all_wait &= u->quiet_cycles(now_) == kNever;
        if (all_wait) {
          throw SimulationError("deadlock at cycle " + std::to_string(now_) +
                                ": every unit waits (" + state_summary() + ")");
        }
      }
    }
  } catch (const SimulationError& e) {
    finish(e.what());
  }
  if (finished_) sc_core::sc_stop();
}

uint32_t NmpTop::layer_count() const {
  uint32_t n = 1;
  for (const ClockedUnit* u : tick_order_) n = std::max(n, u->layer_count());
  for (const auto& s : srams_) n = std::max(n, static_cast<uint32_t>(s->stats_by_layer().size()));
  return std::max(n, static_cast<uint32_t>(dram_.stats_by_layer().size()));
}

void NmpTop::visit_counters(const BlockCounterFn& fn) const {
  const uint32_t layers = layer_count();
  const std::array<std::pair<const char*, const ClockedUnit*>, 4> units = {
      {{"controller", &controller_},
       {"dma", &dma_},
       {"mac_array", &mac_array_},
       {"vector_unit", &vector_unit_}}};
  for (uint32_t layer = 0; layer < layers; ++layer) {
    for (const auto& [name, unit] : units) {
      unit->visit_counters(layer,
                           [&, block = std::string(name)](const CounterInfo& info, uint64_t v) {
                             fn(block, layer, info, v);
                           });
    }
    for (const auto& sram : srams_) {
      const SramStats stats =
          layer < sram->stats_by_layer().size() ? sram->stats_by_layer()[layer] : SramStats{};
      stats.visit(sram->params().name, [&](const CounterInfo& info, uint64_t v) {
        fn(sram->params().name, layer, info, v);
      });
    }
    const DramStats stats =
        layer < dram_.stats_by_layer().size() ? dram_.stats_by_layer()[layer] : DramStats{};
    stats.visit([&](const CounterInfo& info, uint64_t v) { fn("dram", layer, info, v); });
  }
}

}  // namespace nmp::hw
