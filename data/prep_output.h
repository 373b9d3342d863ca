#pragma once
// Where `glm3d prep` writes: the checks on --out made before any work, the temp directory the
// new store is written into, and the swap that puts it in place. An existing --out is replaced
// only with --overwrite and only when it is a token store (its manifest present); the old store
// stays in place until the new one is complete, so a failed prep never leaves no store.
#include <string>
#include <vector>

namespace glm3d {

// UsageError when out_dir exists and may not be replaced: no --overwrite, not a directory, no
// manifest, or an input file lies inside it (the swap would delete the input). `manifest` and
// `what` name the kind of store (glm3d prep sft: "sft_manifest.json", "an SFT store").
void check_prep_output(const std::string& out_dir, bool overwrite, const std::vector<std::string>& inputs,
                       const std::string& manifest = "manifest.txt",
                       const std::string& what = "a token store", const std::string& command = "glm3d prep");

// The bytes of a file a store holds (a tokenizer model, a config); UsageError naming it when
// it is missing or unreadable. `what` says what it is ("tokenizer file").
std::string read_file_bytes(const std::string& path, const std::string& what);
// Writes bytes to a new file of a store; UsageError naming it when that fails.
void write_file_bytes(const std::string& path, const std::string& bytes);

// A fresh empty OUT.tmp-<pid> next to out_dir (same filesystem, so the final rename is atomic).
std::string make_temp_store_dir(const std::string& out_dir);

// Puts the complete store `tmp` at out_dir. An existing store there is exchanged with it
// atomically (renameat2 RENAME_EXCHANGE) and removed only afterwards; where the filesystem
// lacks the exchange, install_store_by_renames.
void install_store(const std::string& tmp, const std::string& out_dir);
// The same with two renames (old store aside to OUT.old-<pid>, new one in), the first undone
// if the second fails.
void install_store_by_renames(const std::string& tmp, const std::string& out_dir);

} // namespace glm3d
