#include "data_fixture.h"

#include "data/rng.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace glm3d::test {

namespace fs = std::filesystem;

namespace {
struct TempRoot {
  std::string path;
  TempRoot() {
    char tmpl[] = "/tmp/glm3d_data_test_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
TempRoot& root() {
  static TempRoot r;
  return r;
}
} // namespace

std::string temp_dir(const std::string& tag) {
  static int counter = 0;
  const std::string d = root().path + "/" + tag + "_" + std::to_string(counter++);
  fs::create_directories(d);
  return d;
}

std::vector<std::string> bilingual_docs(int n, uint64_t seed) {
  static const char* en[] = {"the",   "model",   "learns", "to",    "fill", "blank",   "spans",
                             "in",    "long",    "text",   "a",     "cat",  "sat",     "on",
                             "warm",  "mat",     "while",  "rain",  "fell", "outside", "data",
                             "flows", "through", "many",   "ranks", "and",  "pipes",   "quickly"};
  static const char* zh[] = {"我们", "模型", "学习", "填空", "文本", "数据", "并行", "训练", "春天",
                             "花开", "明月", "山水", "读书", "写字", "天气", "很好", "朋友", "快乐"};
  KeyedRng rng(seed, 0xD0C5);
  std::vector<std::string> docs;
  for (int d = 0; d < n; ++d) {
    std::string doc;
    const int sentences = 1 + int(rng.below(6));
    for (int s = 0; s < sentences; ++s) {
      const bool chinese = rng.below(2) == 0;
      const int words = 4 + int(rng.below(9));
      for (int w = 0; w < words; ++w) {
        if (chinese)
          doc += zh[rng.below(std::size(zh))];
        else
          doc += (w ? " " : "") + std::string(en[rng.below(std::size(en))]);
      }
      doc += chinese ? "。" : ". ";
      if (rng.below(4) == 0)
        doc += "\n";
    }
    docs.push_back(doc);
  }
  return docs;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string gzip(const std::string& bytes) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, uLong(bytes.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = uInt(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_text_file(const std::string& path, const std::vector<std::string>& docs) {
  std::string s;
  for (const auto& d : docs)
    s += d + "\n\n";
  write_bytes(path, s);
}

void write_jsonl_file(const std::string& path, const std::vector<std::string>& docs) {
  std::string s;
  for (const auto& d : docs) {
    s += "{\"id\": 7, \"meta\": {\"a\": [1, \"}\"]}, \"text\": \"";
    for (char c : d) {
      if (c == '\n')
        s += "\\n";
      else if (c == '"')
        s += "\\\"";
      else
        s += c;
    }
    s += "\"}\n";
  }
  write_bytes(path, s);
}

const std::string& tokenizer_path() {
  static const std::string path = [] {
    TokenizerTrainOptions o;
    o.vocab_size = 400;
    o.num_threads = 1;
    const std::string p = temp_dir("tok") + "/tokenizer.model";
    write_bytes(p, train_tokenizer(bilingual_docs(300, 1), o));
    return p;
  }();
  return path;
}

const Tokenizer& tokenizer() {
  static const Tokenizer t = Tokenizer::load(tokenizer_path());
  return t;
}

std::string make_manual_store(const std::string& dir, const std::vector<std::vector<uint32_t>>& shards) {
  fs::create_directories(dir);
  Manifest m;
  m.vocab_size = tokenizer().vocab_size();
  m.tokenizer_sha256 = tokenizer().sha256();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = "shard-" + std::to_string(i) + ".h5";
    m.shards.push_back(
        write_shard(dir, name, shards[i], {0, shards[i].size()}, m.vocab_size, m.tokenizer_sha256));
    m.total_tokens += shards[i].size();
  }
  write_bytes(dir + "/" + k_tokenizer_name, tokenizer().model_bytes());
  write_manifest(dir + "/" + k_manifest_name, m);
  return dir;
}

} // namespace glm3d::test
