#!/usr/bin/env bash
# Builds the sample bilingual corpus for the quickstart and the tests from the Debian text
# packages `fortunes` (English) and `fortunes-zh` (Chinese: Tang and Song poems, sayings):
#   apt-get install fortunes fortunes-zh
#   data/corpus/make_sample_corpus.sh OUT_DIR [MAX_KB_PER_LANGUAGE]   (default 1500)
# Writes OUT_DIR/en.txt and OUT_DIR/zh.txt, plain text with one fortune per document (blank
# line between documents), escape codes and overstrikes removed. Deterministic: files in
# name order, fortunes in file order, until the size cap.
set -euo pipefail

out=${1:?usage: make_sample_corpus.sh OUT_DIR [MAX_KB_PER_LANGUAGE]}
max_kb=${2:-1500}
src=/usr/share/games/fortunes

if [[ ! -f $src/tang300 || ! -f $src/computers ]]; then
  echo "make_sample_corpus.sh: $src lacks the fortune files; install them: apt-get install fortunes fortunes-zh" >&2
  exit 2
fi
mkdir -p "$out"

# perl: split on lines that are a single '%', strip ANSI colour codes and backspace
# overstrikes, drop blank lines inside a fortune, cap the output at max_kb kilobytes.
extract() {
  local cap=$(( $1 * 1024 )); shift
  perl -CSD -e '
    my ($cap, @files) = @ARGV; my $bytes = 0;
    binmode STDOUT, ":encoding(UTF-8)";
    FILE: for my $f (@files) {
      open(my $fh, "<:encoding(UTF-8)", $f) or die "cannot read $f\n";
      local $/ = undef; my $all = <$fh>; close $fh;
      for my $doc (split /^%\s*$/m, $all) {
        $doc =~ s/\e\[[0-9;]*[A-Za-z]?//g; # ANSI escape codes, also broken ones (fortunes-zh)
        $doc =~ s/.\x08//g;             # overstrike: X<BS>Y -> Y
        $doc =~ s/[\x00-\x08\x0b-\x1f\x7f]//g; # other control characters
        $doc =~ s/[ \t]+$//mg;
        $doc =~ s/\n\s*\n/\n/g;         # one document: no blank lines inside
        $doc =~ s/^\s+|\s+$//g;
        next if $doc eq "";
        my $len = do { use bytes; length($doc) + 2 };
        last FILE if $bytes + $len > $cap;
        print $doc, "\n\n"; $bytes += $len;
      }
    }' "$cap" "$@"
}

en_files=()
for f in $(ls "$src"); do
  case $f in
    *.dat|*.u8|chinese|song100|tang300|ascii-art|off) continue ;;
  esac
  [[ -f $src/$f ]] && en_files+=("$src/$f")
done
extract "$max_kb" "$src/tang300" "$src/song100" "$src/chinese" > "$out/zh.txt"
extract "$max_kb" "${en_files[@]}" > "$out/en.txt"
echo "make_sample_corpus.sh: $(wc -c < "$out/en.txt") bytes English, $(wc -c < "$out/zh.txt") bytes Chinese in $out"
