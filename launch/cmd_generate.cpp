// glm3d generate: continuations, ChatGLM-style prompts and blank infilling from a checkpoint on
// any tp x pp layout (infer/). Text streams to the terminal as it is generated (--prompt);
// --input JSONL runs the prompts in batches (left-padded) and writes one JSON line per prompt.
#include "core/check.h"
#include "core/output_path.h"
#include "core/process_memory.h"
#include "data/h5_check.h"
#include "data/h5_format.h"
#include "infer/chat_format.h"
#include "infer/prompt_input.h"
#include "infer/prompt_runner.h"
#include "infer/session.h"
#include "infer/tool_call.h"
#include "launch/generate_options.h"
#include "launch/options.h"
#include "parallel/agreement.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>

namespace glm3d {

namespace {

using Clock = std::chrono::steady_clock;

// What rank 0 prints while the single prompt of --prompt generates: its text (or ids).
struct Streamer {
  const TextTokenizer* tok;
  std::vector<int32_t> ids;
  TextStream text;
  void add(int32_t id) {
    ids.push_back(id);
    if (!tok)
      std::printf(ids.size() == 1 ? "ids: %d" : ",%d", id);
    else
      std::fputs(text.next(tok->decode(ids)).c_str(), stdout);
    std::fflush(stdout);
  }
  void finish(const std::vector<int32_t>& all) {
    if (tok)
      std::fputs(text.finish(tok->decode(all)).c_str(), stdout);
    std::printf("\n");
  }
};

std::string ids_text(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i)
    s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

// The first step's logits of every prompt, [N, vocab], written by the rank that has them.
void write_logits(const std::string& path, const std::vector<float>& logits, int64_t n, int64_t vocab) {
  auto lock = h5::library_lock();
  h5::Handle f;
  try {
    f = h5::Handle(
        H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, h5::checksummed_fapl().get())),
        H5Fclose);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "cannot create " << path << ": " << e.what();
  }
  const hsize_t dims[2] = {hsize_t(n), hsize_t(vocab)};
  h5::Handle space(H5_CHECK(H5Screate_simple(2, dims, nullptr)), H5Sclose);
  h5::Handle d(H5_CHECK(H5Dcreate2(f.get(), "logits", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                   H5P_DEFAULT)),
               H5Dclose);
  H5_CHECK(H5Dwrite(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, logits.data()));
}

// Time in prefill steps (tokens processed) and decode steps (tokens generated).
struct StepClock {
  Clock::time_point t0;
  bool prefill = false;
  int64_t tokens = 0;
  double prefill_s = 0, decode_s = 0;
  int64_t prefill_tokens = 0, decode_tokens = 0;
  void start(const StepBatch& s, int64_t index) {
    t0 = Clock::now(), prefill = index == 0, tokens = prefill ? s.total() : s.size();
  }
  void stop() {
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    (prefill ? prefill_s : decode_s) += dt;
    (prefill ? prefill_tokens : decode_tokens) += tokens;
  }
};

// The options of glm3d generate beyond the shared ones.
struct GenerateCommand {
  GenerateCliOptions o;
  std::string prompt, prompt_ids, input, out, logits_out;
  bool print_ids = false, stats = false;
  int64_t batch_size = 8;
};

std::vector<PreparedPrompt> read_prompts(const GenerateCommand& c, const po::variables_map& vm,
                                         const GenerationSession& s) {
  std::vector<PromptInput> inputs;
  if (!c.input.empty())
    inputs = read_prompt_file(c.input);
  else if (vm.count("prompt-ids"))
    inputs.push_back({"", parse_prompt_ids(c.prompt_ids), true});
  else
    inputs.push_back({c.prompt, {}, false});
  std::vector<PreparedPrompt> prompts;
  for (size_t i = 0; i < inputs.size(); ++i)
    prompts.push_back(
        s.prepare(prompt_ids(inputs[i], s.tokenizer(), int64_t(i)), s.config().seq_len, int64_t(i)));
  return prompts;
}

// A ChatGLM3 model's tool call in the output (infer/tool_call.h), if the reply makes one.
std::optional<nlohmann::ordered_json> tool_call_of(const std::vector<int32_t>& output,
                                                   const GenerationSession& s) {
  const SpecialIds& sp = s.special();
  if (!s.tokenizer() || s.config().mask != MaskKind::causal || sp.user < 0 || sp.assistant < 0)
    return std::nullopt;
  return chatglm3_tool_call(chatglm3_reply_text(
      output, sp.assistant, [&](const std::vector<int32_t>& part) { return s.tokenizer()->decode(part); }));
}

void write_jsonl(std::ofstream& out, size_t first, const std::vector<PromptResult>& r,
                 const std::vector<PreparedPrompt>& prompts, const GenerationSession& s) {
  const TextTokenizer* tok = s.tokenizer();
  for (size_t i = 0; i < r.size(); ++i) {
    nlohmann::ordered_json line = {{"index", first + i}};
    if (tok)
      line["output"] = tok->decode(r[i].output);
    if (const auto call = tool_call_of(r[i].output, s))
      line["tool_call"] = *call;
    line["output_ids"] = r[i].output;
    if (prompts[first + i].infill)
      line["spans"] = r[i].spans;
    line["stopped"] = r[i].stopped;
    out << line.dump() << "\n";
  }
}

void print_stats(const StepClock& clock, const GenerateOptions& g, GenerationSession& s) {
  std::fprintf(stderr,
               "stats: prefill %lld tokens in %.3f s; decode %lld tokens in %.3f s, %.1f tokens/s (%s); "
               "kv cache %.2f MiB; peak RSS %.1f MiB\n",
               (long long)clock.prefill_tokens, clock.prefill_s, (long long)clock.decode_tokens,
               clock.decode_s, clock.decode_s > 0 ? double(clock.decode_tokens) / clock.decode_s : 0.0,
               g.use_cache ? "kv cache" : "no cache, recomputed",
               double(s.generator().cache_bytes()) / 1048576.0, double(peak_rss_bytes()) / 1048576.0);
}

// Runs the prompts in batches: streams the single prompt's text on rank 0, writes --out lines,
// keeps each prompt's first logits for --logits-out, times the steps.
std::vector<PromptResult> run_batches(const GenerateCommand& c, GenerationSession& s,
                                      const std::vector<PreparedPrompt>& prompts, const GenerateOptions& g,
                                      StepClock& clock) {
  const int64_t V = s.config().vocab;
  const bool stream = c.input.empty() && !prompts[0].infill && s.is_root();
  Streamer streamer{s.tokenizer(), {}, TextStream()};
  std::vector<float> first_logits(prompts.size() * size_t(V), 0.0f);
  std::vector<char> seen(prompts.size(), 0);
  std::ofstream jsonl;
  if (s.is_root() && !c.out.empty()) {
    jsonl.open(c.out);
    GLM3D_USAGE_CHECK(jsonl) << "cannot write " << c.out;
  }
  std::vector<PromptResult> results;
  for (size_t b0 = 0; b0 < prompts.size(); b0 += size_t(c.batch_size)) {
    GenerateHooks hooks;
    hooks.on_step = [&](const StepBatch& step, int64_t index) { clock.start(step, index); };
    hooks.on_tokens = [&](const std::vector<int32_t>& t) {
      clock.stop();
      if (stream && t[0] >= 0 && std::find(g.stop.begin(), g.stop.end(), t[0]) == g.stop.end())
        streamer.add(t[0]);
    };
    if (!c.logits_out.empty())
      hooks.on_logits = [&](int64_t i, const float* l) {
        if (!seen[b0 + size_t(i)]++)
          std::copy(l, l + V, first_logits.begin() + int64_t(b0 + size_t(i)) * V);
      };
    const size_t b1 = std::min(prompts.size(), b0 + size_t(c.batch_size));
    const std::vector<PreparedPrompt> batch(prompts.begin() + int64_t(b0), prompts.begin() + int64_t(b1));
    const std::vector<PromptResult> r = generate_prompts(s.generator(), batch, b0, g, s.special(), hooks);
    if (jsonl.is_open())
      write_jsonl(jsonl, b0, r, prompts, s);
    results.insert(results.end(), r.begin(), r.end());
  }
  if (s.holds_logits() && !c.logits_out.empty())
    write_logits(c.logits_out, first_logits, int64_t(prompts.size()), V);
  if (stream)
    streamer.finish(results[0].output);
  return results;
}

} // namespace

int cmd_generate(const Args& args, const RunContext& ctx) {
  GenerateCommand c;
  c.o.sampling.top_k = 50; // Hugging Face's default
  po::options_description desc("glm3d generate --load CKPT (--prompt TEXT | --prompt-ids 5,17 | --input "
                               "prompts.jsonl --out out.jsonl): text from a checkpoint");
  add_generate_options(desc, c.o);
  desc.add_options()                                                                                     //
      ("prompt", po::value(&c.prompt), "one prompt (text; [MASK] / [gMASK] / <sop> are special tokens)") //
      ("prompt-ids", po::value(&c.prompt_ids), "one prompt as token ids, e.g. 5,17,291,294")             //
      ("input", po::value(&c.input),
       "JSONL prompts: {\"prompt\": TEXT} or {\"input_ids\": [ids]} per line")                          //
      ("out", po::value(&c.out), "JSONL output for --input: index, output (text), output_ids, stopped") //
      ("batch-size", defaulted(&c.batch_size), "prompts per batch (left-padded) with --input")          //
      ("print-ids", po::bool_switch(&c.print_ids), "also print the generated ids")                      //
      ("stats", po::bool_switch(&c.stats), "print prefill and decode speed, cache and weight memory")   //
      ("logits-out", po::value(&c.logits_out), "HDF5 file: `logits` [prompts, vocab] of each first step");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0;
  GLM3D_USAGE_CHECK(vm.count("prompt") + vm.count("prompt-ids") + vm.count("input") == 1)
      << "glm3d generate needs exactly one of --prompt TEXT, --prompt-ids IDS, --input FILE.jsonl";
  GLM3D_USAGE_CHECK(c.input.empty() == c.out.empty())
      << "--input FILE.jsonl and --out FILE.jsonl go together";
  GLM3D_USAGE_CHECK(c.batch_size > 0) << "--batch-size must be positive";
  check_generate_options(c.o);
  if (!c.out.empty())
    run_on_root(ctx.world, 0, [&] { check_output_file("--out", c.out); });
  GenerationSession s(c.o.session, ctx.world);
  const GenerateOptions g = generation_options(c.o, s);
  const std::vector<PreparedPrompt> prompts = read_prompts(c, vm, s);
  if (s.is_root() && c.stats)
    std::fprintf(stderr, "generate: %s\n", s.describe().c_str());
  StepClock clock;
  const std::vector<PromptResult> results = run_batches(c, s, prompts, g, clock);
  if (!s.is_root())
    return 0;
  const std::vector<int32_t>& first = results[0].output;
  const bool single = c.input.empty();
  if (single && prompts[0].infill) // the text with its blanks filled (not streamed)
    std::printf("%s\n",
                s.tokenizer() ? s.tokenizer()->decode(first).c_str() : ("ids: " + ids_text(first)).c_str());
  if (single && c.print_ids && s.tokenizer())
    std::printf("ids: %s\n", ids_text(first).c_str());
  if (const auto call = single ? tool_call_of(first, s) : std::nullopt)
    std::printf("tool call: %s\n", call->dump(-1, ' ', false).c_str());
  if (!c.out.empty())
    std::printf("generate: %zu prompts -> %s\n", prompts.size(), c.out.c_str());
  if (c.stats)
    print_stats(clock, g, s);
  return 0;
}

} // namespace glm3d
