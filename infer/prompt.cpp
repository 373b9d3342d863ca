#include "infer/prompt.h"

#include "core/check.h"

#include <algorithm>

namespace glm3d {

namespace {
int64_t index_of(const std::vector<int32_t>& ids, int32_t id, int64_t end) {
  if (id < 0)
    return -1;
  const auto it = std::find(ids.begin(), ids.begin() + end, id);
  return it == ids.begin() + end ? -1 : int64_t(it - ids.begin());
}
} // namespace

SpecialIds resolve_special_ids(const std::map<std::string, int64_t>& ck, const SpecialTokens* tok,
                               const std::string& path) {
  SpecialIds sp;
  // (field, checkpoint names, the tokenizer's id)
  const struct {
    int32_t* field;
    const char* names[2];
    const char* piece;
    int32_t from_tokenizer;
  } table[] = {
      {&sp.mask, {"mask", nullptr}, "[MASK]", tok ? tok->mask : -1},
      {&sp.gmask, {"gmask", nullptr}, "[gMASK]", tok ? tok->gmask : -1},
      {&sp.smask, {"smask", nullptr}, "[sMASK]", tok ? tok->smask : -1},
      {&sp.sop, {"bos", "sop"}, "<sop>", tok ? tok->sop : -1},
      {&sp.eop, {"eos", "eop"}, "<eop>", tok ? tok->eop : -1},
      {&sp.pad, {"pad", nullptr}, "<pad>", tok ? tok->pad : -1},
  };
  for (const auto& e : table) {
    int32_t id = -1;
    for (const char* n : e.names)
      if (n && ck.count(n))
        id = int32_t(ck.at(n));
    GLM3D_USAGE_CHECK(id < 0 || e.from_tokenizer < 0 || id == e.from_tokenizer)
        << "checkpoint " << path << " gives " << e.piece << " the id " << id << ", the tokenizer "
        << e.from_tokenizer << ": they do not belong together";
    *e.field = id >= 0 ? id : e.from_tokenizer;
  }
  if (tok)
    sp.eos = tok->eos;                    // glm3d's end of document (ChatGLM's config calls <eop> eos)
  if (ck.count("eos") && ck.count("eop")) // ChatGLM2/3: eos (2) is not <eop>
    sp.eos = int32_t(ck.at("eos"));
  for (auto [field, name] : {std::pair{&sp.system, "system"},
                             {&sp.user, "user"},
                             {&sp.assistant, "assistant"},
                             {&sp.observation, "observation"}})
    if (ck.count(name))
      *field = int32_t(ck.at(name));
  return sp;
}

namespace {
void check_ids(const std::vector<int32_t>& ids, int64_t vocab, int64_t index) {
  GLM3D_USAGE_CHECK(!ids.empty()) << "prompt " << index << " is empty";
  for (int32_t id : ids)
    GLM3D_USAGE_CHECK(id >= 0 && id < vocab)
        << "prompt " << index << ": token id " << id << " is outside the model's vocabulary of " << vocab;
}

void check_room(const std::vector<int32_t>& ids, int64_t need, int64_t seq_len, int64_t index) {
  GLM3D_USAGE_CHECK(need <= seq_len) << "prompt " << index << " has " << ids.size()
                                     << " tokens (with the special tokens added); the model's context is "
                                     << seq_len << " tokens (seq_len), which leaves no room to generate";
}
} // namespace

PreparedPrompt prepare_prompt(std::vector<int32_t> ids, const SpecialIds& sp, int64_t vocab, int64_t seq_len,
                              int64_t index) {
  check_ids(ids, vocab, index);
  const int64_t n = int64_t(ids.size());
  const int64_t sop = index_of(ids, sp.sop, n);
  const int64_t gmask = index_of(ids, sp.gmask, sop < 0 ? n : sop);
  const int64_t blank = next_blank(std::vector<int32_t>(ids.begin(), ids.begin() + (sop < 0 ? n : sop)), sp);
  PreparedPrompt p;
  if (sop >= 0) {
    GLM3D_USAGE_CHECK(gmask >= 0 || blank >= 0)
        << "prompt " << index << ": <sop> at token " << sop << " has no [gMASK], [MASK] or [sMASK] before it";
  } else if (gmask < 0 && blank >= 0) {
    p.infill = true;
  } else {
    GLM3D_USAGE_CHECK(sp.sop >= 0 && (gmask >= 0 || sp.gmask >= 0))
        << "prompt " << index << ": the ids of " << (sp.sop < 0 ? "<sop>" : "[gMASK]")
        << " are unknown: give --tokenizer, or a checkpoint with special tokens (an imported config.json)";
    if (gmask < 0)
      ids.push_back(sp.gmask);
    ids.push_back(sp.sop);
  }
  // An infill round adds <sop>; every sequence needs room for at least one new token.
  check_room(ids, int64_t(ids.size()) + (p.infill ? 2 : 1), seq_len, index);
  p.ids = std::move(ids);
  return p;
}

PreparedPrompt prepare_causal_prompt(std::vector<int32_t> ids, const SpecialIds& sp, int64_t vocab,
                                     int64_t seq_len, int64_t index) {
  check_ids(ids, vocab, index);
  GLM3D_USAGE_CHECK(sp.gmask >= 0 && sp.sop >= 0)
      << "prompt " << index << ": the ids of " << (sp.sop < 0 ? "<sop>" : "[gMASK]")
      << " are unknown: give --tokenizer, or a checkpoint with special tokens (an imported config.json)";
  if (!(ids.size() >= 2 && ids[0] == sp.gmask && ids[1] == sp.sop))
    ids.insert(ids.begin(), {sp.gmask, sp.sop});
  check_room(ids, int64_t(ids.size()) + 1, seq_len, index);
  return {std::move(ids), false};
}

std::vector<int32_t> generation_stop_ids(const SpecialIds& sp, bool causal) {
  const std::vector<int32_t> ids =
      causal ? std::vector<int32_t>{sp.eos, sp.user, sp.observation} : std::vector<int32_t>{sp.eop, sp.eos};
  std::vector<int32_t> stop;
  for (int32_t id : ids)
    if (id >= 0)
      stop.push_back(id);
  return stop;
}

int64_t next_blank(const std::vector<int32_t>& ids, const SpecialIds& sp) {
  const int64_t n = int64_t(ids.size()), m = index_of(ids, sp.mask, n), s = index_of(ids, sp.smask, n);
  return m < 0 ? s : s < 0 ? m : std::min(m, s);
}

GlmSequence glm_sequence(std::vector<int32_t> ids, const SpecialIds& sp) {
  GlmSequence s;
  s.context = index_of(ids, sp.sop, int64_t(ids.size()));
  GLM3D_CHECK(s.context >= 0) << "a sequence without <sop>";
  const std::vector<int32_t> part_a(ids.begin(), ids.begin() + s.context);
  const int64_t g = index_of(part_a, sp.gmask, s.context);
  s.mask_index = g >= 0 ? g : next_blank(part_a, sp);
  GLM3D_CHECK(s.mask_index >= 0) << "a sequence without a mask before <sop>";
  s.ids = std::move(ids);
  return s;
}

} // namespace glm3d
