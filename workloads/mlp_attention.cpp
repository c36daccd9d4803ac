#include "workloads/mlp_attention.hpp"

#include <algorithm>
#include <cmath>

#include "hw_models/arith/vector_math.hpp"

namespace nmp::workloads {
namespace {

using arith::VectorFunction;
using hw::VectorBinary;
using isa::Opcode;
using isa::Space;

// Registers of the generated code (r13-r15 belong to the program builder).
enum Reg : unsigned { kRegRows = 1, kRegQ = 2, kRegOut = 3, kRegSram = 4, kRegDram = 5 };

}  // namespace

MlpAttention place_mlp_attention(const LayerSpec& l, size_t index, const hw::NmpParams& hw,
                                 RegionAllocator& allocate) {
  const Geometry g = geometry_of(hw);
  const uint64_t vb = arith::element_bytes(hw.vector_unit.math);
  const uint64_t S = l.context, A = l.in_features, D = l.out_features;
  const std::string where = "layer " + std::to_string(index) + " (" + l.name + ")";
  if (S > kMaxVectorRows) {
    throw LoweringError("workload", "/layers/" + std::to_string(index) + "/context",
                        where + ": at most " + std::to_string(kMaxVectorRows) +
                            " memory positions (the vector commands' m field)");
  }
  MlpAttention a;
  a.key_row = round_up(A * vb, g.act_word);
  a.memory_row = round_up(D * vb, g.act_word);
  a.scratch_row = std::max(a.key_row, a.memory_row);
  RegionAllocator region(g.act_word);
  a.keys = region(S * a.key_row);
  a.memory = region(S * a.memory_row);
  a.v = region(A * vb);
  a.q = region(A * vb);
  a.scratch = region(S * a.scratch_row);  // E, then M * p
  a.scores = region(S * vb);
  if (region.top() > g.act_cap) {
    throw LoweringError("hw", "/act_sram/capacity_kib",
                        where +
                            ": the activation SRAM must hold the memory's keys and values and "
                            "a row's scores (" +
                            std::to_string(region.top()) + " bytes); it holds " +
                            std::to_string(g.act_cap));
  }
  if (!l.memory_from_graph()) {
    a.keys_dram = allocate(S * A * vb);
    a.memory_dram = allocate(S * D * vb);
  }
  a.v_dram = allocate(A * vb);
  return a;
}

void write_mlp_attention(const MlpAttention& a, const LayerSpec& l, const LayerData& ld,
                         const hw::NmpParams& hw, hw::ZeroPages& image) {
  const arith::VectorMath vm(hw.vector_unit.math);
  const uint64_t vb = vm.element_bytes();
  if (!l.memory_from_graph()) {
    put_patterns(image, a.keys_dram, to_vector_format(vm, ld.keys.latent), vb);
    put_patterns(image, a.memory_dram, to_vector_format(vm, ld.values.latent), vb);
  }
  put_patterns(image, a.v_dram, to_vector_format(vm, ld.weights), vb);
}

void emit_mlp_attention(ProgramBuilder& b, const MlpAttention& a, const LayerSpec& l, uint32_t rows,
                        const std::vector<uint64_t>& inputs, uint64_t out,
                        const hw::NmpParams& hw) {
  const TensorStorage storage = TensorStorage::of_graph(hw);  // of the graph's tensors
  const uint64_t vb = storage.vec_bytes, db = storage.dram_bytes;
  const uint64_t S = l.context, A = l.in_features, D = l.out_features;
  auto vec = [](uint64_t addr, uint64_t stride = 0) { return VecRef{addr, false, stride}; };
  // `width` elements per row, of the layer's own data (vec) or of a graph tensor.
  auto load = [&](uint64_t sram, uint64_t dram, uint64_t m, uint64_t width, uint64_t stride,
                  bool graph_tensor) {
    b.li(kRegSram, sram);
    b.li(kRegDram, dram);
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegDram, m, width * vb, stride,
          width * (graph_tensor ? db : vb),
          graph_tensor ? storage.convert : isa::dma::kNoConversion);
  };
  const bool graph_memory = l.memory_from_graph();
  load(a.keys, graph_memory ? inputs[1] : a.keys_dram, S, A, a.key_row, graph_memory);
  load(a.memory, graph_memory ? inputs[2] : a.memory_dram, S, D, a.memory_row, graph_memory);
  load(a.v, a.v_dram, 1, A, A * vb, false);
  const uint64_t q = inputs[0];
  const VecRef scratch = vec(a.scratch, a.scratch_row);
  b.li(kRegRows, rows);
  b.li(kRegQ, q);
  b.li(kRegOut, out);
  const uint64_t loop = b.here();
  b.li(kRegSram, a.q);
  b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegQ, 1, A * vb, A * vb, A * db,
        storage.convert);
  b.vbin(VectorBinary::kAdd, scratch, vec(a.keys, a.key_row), vec(a.q), false, S, A);
  b.vfn(VectorFunction::kTanh, scratch, scratch, S, A);
  b.vbin(VectorBinary::kMul, scratch, scratch, vec(a.v), false, S, A);
  b.vred(hw::VectorReduce::kSum, vec(a.scores), scratch, S, A);
  b.softmax(vec(a.scores), vec(a.scores), 1, S, S, false, 0);
  b.vbin(VectorBinary::kMul, scratch, vec(a.memory, a.memory_row), vec(a.scores, vb), true, S, D);
  for (uint64_t n = S; n > 1;) {  // sum the rows by halving
    const uint64_t half = n / 2;
    b.vbin(VectorBinary::kAdd, scratch, scratch,
           vec(a.scratch + (n - half) * a.scratch_row, a.scratch_row), false, half, D);
    n -= half;
  }
  b.li(kRegSram, a.scratch);
  b.dma(Opcode::kDmaStore, Space::kActSram, kRegSram, kRegOut, 1, D * vb, D * vb, D * db,
        storage.convert);
  b.addi(kRegQ, kRegQ, static_cast<int64_t>(A * db));
  b.addi(kRegOut, kRegOut, static_cast<int64_t>(D * db));
  b.dbnz(kRegRows, loop);
}

LayerReference reference_mlp_attention(const LayerSpec& l, uint32_t rows,
                                       const std::vector<const std::vector<uint32_t>*>& exact,
                                       const std::vector<const std::vector<float>*>& fp32,
                                       const LayerData& ld, const hw::NmpParams& hw) {
  const arith::VectorMath vm(hw.vector_unit.math);
  const uint32_t S = l.context, A = l.in_features, D = l.out_features;
  const uint32_t lanes = hw.vector_unit.lanes;
  const std::vector<uint32_t>& q = *exact[0];
  const std::vector<float>& q_fp32 = *fp32[0];
  const bool graph_memory = l.memory_from_graph();
  const std::vector<float>& keys_fp32 = graph_memory ? *fp32[1] : ld.keys.latent;
  const std::vector<float>& memory_fp32 = graph_memory ? *fp32[2] : ld.values.latent;
  const std::vector<uint32_t> keys =
      graph_memory ? *exact[1] : to_vector_format(vm, ld.keys.latent);
  const std::vector<uint32_t> memory =
      graph_memory ? *exact[2] : to_vector_format(vm, ld.values.latent);
  const std::vector<uint32_t> v = to_vector_format(vm, ld.weights);
  LayerReference ref;
  std::vector<uint32_t> e(A), scores(S), w(size_t{S} * D);
  std::vector<double> scores_fp(S);
  for (uint32_t r = 0; r < rows; ++r) {
    const uint32_t* qr = &q[size_t{r} * A];
    const float* qf = &q_fp32[size_t{r} * A];
    for (uint32_t s = 0; s < S; ++s) {
      double score = 0;
      for (uint32_t i = 0; i < A; ++i) {
        const size_t at = size_t{s} * A + i;
        e[i] = vm.mul(vm.apply(VectorFunction::kTanh, vm.add(keys[at], qr[i])), v[i]);
        score += double{ld.weights[i]} * std::tanh(double{keys_fp32[at]} + qf[i]);
      }
      scores[s] = vm.sum(e, lanes);
      scores_fp[s] = score;
    }
    const std::vector<uint32_t> p = reference_softmax(vm, scores, S, lanes);
    for (uint32_t s = 0; s < S; ++s) {
      for (uint32_t j = 0; j < D; ++j)
        w[size_t{s} * D + j] = vm.mul(memory[size_t{s} * D + j], p[s]);
    }
    for (uint32_t n = S; n > 1;) {
      const uint32_t half = n / 2;
      for (uint32_t i = 0; i < half; ++i) {
        for (uint32_t j = 0; j < D; ++j) {
          uint32_t& acc = w[size_t{i} * D + j];
          acc = vm.add(acc, w[size_t{n - half + i} * D + j]);
        }
      }
      n -= half;
    }
    ref.out.insert(ref.out.end(), w.begin(), w.begin() + D);
    const double top = *std::max_element(scores_fp.begin(), scores_fp.end());
    double total = 0;
    for (double& x : scores_fp) total += (x = std::exp(x - top));
    for (uint32_t j = 0; j < D; ++j) {
      double c = 0;
      for (uint32_t s = 0; s < S; ++s) c += scores_fp[s] / total * memory_fp32[size_t{s} * D + j];
      ref.fp32.push_back(static_cast<float>(c));
    }
  }
  return ref;
}

}  // namespace nmp::workloads
