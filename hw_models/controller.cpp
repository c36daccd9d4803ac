#include "hw_models/controller.hpp"

#include <iterator>

namespace nmp::hw {

using isa::Opcode;
using isa::Unit;

const char* to_string(IssueStall stall) {
  static const char* const kNames[] = {
      "issue",      "queue_full_dma", "queue_full_mac", "queue_full_vector",
      "hazard_raw", "hazard_war",     "hazard_waw",     "barrier",
      "drain",      "branch"};
  static_assert(std::size(kNames) == static_cast<size_t>(IssueStall::kCount));
  return kNames[static_cast<size_t>(stall)];
}

void ControllerStats::visit(const CounterFn& fn) const {
  fn({"issued_control", "instructions", "scalar and control instructions executed",
      "ctrl.instruction"},
     issued_control);
  fn({"issued_dma", "instructions", "instructions issued to the DMA queue", "ctrl.instruction"},
     issued_dma);
  fn({"issued_mac", "instructions", "instructions issued to the MAC array queue",
      "ctrl.instruction"},
     issued_mac);
  fn({"issued_vector", "instructions", "instructions issued to the vector unit queue",
      "ctrl.instruction"},
     issued_vector);
  static const char* const kWhy[] = {"",
                                     "the DMA queue was full",
                                     "the MAC array queue was full",
                                     "the vector unit queue was full",
                                     "it would read what an in-flight command writes",
                                     "it would write what an in-flight command reads",
                                     "it would write what an in-flight command writes",
                                     "sync waited for units to drain",
                                     "halt waited for units to drain",
                                     "a taken branch left a bubble"};
  const uint64_t issue_cycles = issued_control + issued_dma + issued_mac + issued_vector;
  fn({"busy_issue", "cycles", "cycles in which an instruction issued", ""}, issue_cycles);
  for (size_t i = 1; i < stall.size(); ++i) {
    fn({std::string("stall_") + to_string(static_cast<IssueStall>(i)), "cycles",
        std::string("cycles the controller could not issue because ") + kWhy[i], ""},
       stall[i]);
  }
}

Controller::Controller(sc_core::sc_module_name name, const ControllerParams& params,
                       const isa::Program& program, std::array<QueuedUnit*, 4> units,
                       Scoreboard& scoreboard)
    : sc_module(name), params_(params), units_(units), scoreboard_(scoreboard) {
  for (const isa::Instr& i : program) (void)isa::decode(i);  // throws on a bad encoding
  program_ = program;
}

const isa::Decoded& Controller::current() const {
  if (decoded_pc_ != pc_) {
    decoded_ = isa::decode(program_[pc_]);
    decoded_pc_ = pc_;
  }
  return decoded_;
}

bool Controller::units_drained(unsigned mask) const {
  for (Unit u : {Unit::kDma, Unit::kMacArray, Unit::kVector}) {
    const bool named = mask == 0 || (mask & isa::unit_mask_bit(u));
    if (named && !units_[static_cast<size_t>(u)]->drained()) return false;
  }
  return true;
}

const Command& Controller::pending_command() const {
  if (pending_valid_) return pending_;
  const isa::Decoded& d = current();
  Command cmd = unit_command(d, pc_, layer_, regs_);
  try {
    cmd.footprint = units_[static_cast<size_t>(d.spec->unit)]->footprint(cmd);
  } catch (const SimulationError& e) {
    throw SimulationError("pc " + std::to_string(pc_) + ": " + std::string(d.spec->mnemonic) +
                          ": " + e.what());
  }
  pending_ = cmd;
  pending_valid_ = true;
  return pending_;
}

IssueStall Controller::blocker(Cycles /*now*/) const {
  if (pc_ >= program_.size()) {
    throw SimulationError("pc " + std::to_string(pc_) +
                          " ran past the end of the program without a halt");
  }
  const isa::Decoded& d = current();
  const Unit unit = d.spec->unit;
  if (unit == Unit::kController) {
    if (d.spec->opcode == Opcode::kSync) {
      return units_drained(static_cast<unsigned>(d.ufield(isa::ctrl::kSyncUnits)))
                 ? IssueStall::kNone
                 : IssueStall::kBarrier;
    }
    if (d.spec->opcode == Opcode::kHalt) {
      return units_drained(0) && scoreboard_.empty() ? IssueStall::kNone : IssueStall::kDrain;
    }
    return IssueStall::kNone;
  }
  if (units_[static_cast<size_t>(unit)]->queue_full()) {
    switch (unit) {
      case Unit::kDma:
        return IssueStall::kQueueFullDma;
      case Unit::kMacArray:
        return IssueStall::kQueueFullMac;
      default:
        return IssueStall::kQueueFullVector;
    }
  }
  switch (scoreboard_.check(unit, pending_command().footprint)) {
    case Hazard::kRaw:
      return IssueStall::kHazardRaw;
    case Hazard::kWar:
      return IssueStall::kHazardWar;
    case Hazard::kWaw:
      return IssueStall::kHazardWaw;
    case Hazard::kNone:
      break;
  }
  return IssueStall::kNone;
}

void Controller::tick(Cycles now) {
  if (halted_) return;
  if (bubble_ > 0) {
    --bubble_;
    stall_ = IssueStall::kBranch;
  } else {
    stall_ = blocker(now);
  }
  if (stall_ != IssueStall::kNone) {
    ++stats().stall[static_cast<size_t>(stall_)];
  } else {
    execute(now);
  }
  if (timeline_) timeline_->controller(static_cast<uint8_t>(stall_), now, 1);
}

ControlStep execute_control(const isa::Decoded& d, uint32_t pc, Registers& regs) {
  auto set = [&regs](uint64_t r, uint64_t v) {
    if (r != 0) regs[r] = v;  // r0 always reads 0
  };
  auto reg = [&regs, &d](unsigned operand) { return regs[d.ufield(operand)]; };
  using namespace isa::ctrl;
  switch (d.spec->opcode) {
    case Opcode::kLi:
      set(d.ufield(kRd), d.ufield(kLiImm));
      break;
    case Opcode::kAddi:
      set(d.ufield(kRd), reg(kRs) + d.ufield(kAddiImm));
      break;
    case Opcode::kAdd:
      set(d.ufield(kRd), reg(kRs) + reg(kRt));
      break;
    case Opcode::kSub:
      set(d.ufield(kRd), reg(kRs) - reg(kRt));
      break;
    case Opcode::kJmp:
      return {static_cast<uint32_t>(d.ufield(kJmpTarget)), true};
    case Opcode::kBnez:
      if (reg(kBranchReg) != 0) return {static_cast<uint32_t>(d.ufield(kBranchTarget)), true};
      break;
    case Opcode::kDbnz:
      set(d.ufield(kBranchReg), reg(kBranchReg) - 1);
      if (reg(kBranchReg) != 0) return {static_cast<uint32_t>(d.ufield(kBranchTarget)), true};
      break;
    default:
      break;  // layer, halt, nop, sync: no register changes
  }
  return {pc + 1, false};
}

Command unit_command(const isa::Decoded& d, uint32_t pc, uint32_t layer, const Registers& regs) {
  Command cmd;
  cmd.opcode = d.spec->opcode;
  cmd.pc = pc;
  cmd.layer = layer;
  for (size_t i = 0; i < d.spec->operands.size(); ++i) {
    const bool is_reg = d.spec->operands[i].kind == isa::OperandKind::kReg;
    cmd.args[i] = is_reg ? regs[d.ufield(i)] : d.ufield(i);
  }
  return cmd;
}

void Controller::execute(Cycles now) {
  const isa::Decoded& d = current();
  uint32_t next_pc = pc_ + 1;
  const Unit unit = d.spec->unit;
  if (unit == Unit::kController) {
    ++stats().issued_control;
    const ControlStep step = execute_control(d, pc_, regs_);
    next_pc = step.next_pc;
    if (step.branch_taken) bubble_ = params_.branch_penalty_cycles;
    if (d.spec->opcode == Opcode::kLayer) {
      layer_ = static_cast<uint32_t>(d.ufield(isa::ctrl::kLayerId));
      enter_layer(layer_entries_, layer_, now);
    } else if (d.spec->opcode == Opcode::kHalt) {
      halted_ = true;
    }
  } else {
    Command cmd = pending_command();
    cmd.seq = next_seq_++;
    QueuedUnit* target = units_[static_cast<size_t>(unit)];
    target->push(cmd, now);
    scoreboard_.add(cmd.seq, unit, cmd.footprint);
    ControllerStats& s = stats();
    (unit == Unit::kDma        ? s.issued_dma
     : unit == Unit::kMacArray ? s.issued_mac
                               : s.issued_vector)++;
  }
  if (timeline_) timeline_->pc(now + 1, next_pc);
  pc_ = next_pc;
  pending_valid_ = false;
  ++executed_;
}

Cycles Controller::quiet_cycles(Cycles now) const {
  if (halted_) return kNever;
  if (bubble_ > 0 || pc_ >= program_.size()) return 0;
  return blocker(now) == IssueStall::kNone ? 0 : kNever;
}

void Controller::skip(Cycles now, Cycles n) {
  if (halted_) return;
  stall_ = blocker(now);
  stats().stall[static_cast<size_t>(stall_)] += n;
  if (timeline_) timeline_->controller(static_cast<uint8_t>(stall_), now, n);
}

void Controller::visit_counters(uint32_t layer, const CounterFn& fn) const {
  if (layer < stats_.size()) stats_[layer].visit(fn);
}

}  // namespace nmp::hw
