// Standalone microbenchmark for the BPE core (no Python): lexer alone, BPE alone on pre-lexed
// pieces, and the two together; plus worst-case single-piece inputs. For perf/callgrind.
//
// Build (after tools/dev_build.sh bpe has built libfastprep_core.a):
//   g++ -O3 -std=c++17 -g -Icpp/include tools/bpe_bench.cpp build-dev/bpe/libfastprep_core.a -lpthread -o build-dev/bpe_bench
// Run:
//   build-dev/bpe_bench RANK_FILE [cl100k|o200k|gpt2] CORPUS... [--repeat N] [--threads T] [--worst]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <time.h>

#include "fastprep/bpe.h"
#include "fastprep/pretokenize.h"

using namespace fastprep;
using Clock = std::chrono::steady_clock;
static bool g_cpu_time = true;

static std::string read_file(const char* path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(2);
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of the calling thread: on a shared machine it is not inflated by time spent
// descheduled (the single-threaded figures use it; --threads > 1 figures use wall time).
static double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Best of `repeat` runs of fn(), in seconds.
template <class F>
static double best_of(int repeat, F&& fn) {
  double best = 1e30;
  for (int i = 0; i < repeat; ++i) {
    auto t0 = Clock::now();
    double c0 = thread_cpu_seconds();
    fn();
    best = std::min(best, g_cpu_time ? thread_cpu_seconds() - c0 : seconds_since(t0));
  }
  return best;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s RANK_FILE cl100k|o200k|gpt2 CORPUS... [--repeat N] [--threads T] [--worst]\n", argv[0]);
    return 2;
  }
  int repeat = 5;
  size_t threads = 1;
  bool worst = false;
  std::vector<const char*> corpora;
  for (int i = 3; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = static_cast<size_t>(std::atoi(argv[++i]));
      g_cpu_time = threads <= 1;
    } else if (!std::strcmp(argv[i], "--worst")) {
      worst = true;
    } else {
      corpora.push_back(argv[i]);
    }
  }
  std::string kind_name = argv[2];
  PreTokenizerKind kind = kind_name == "o200k" ? PreTokenizerKind::kO200k
                          : kind_name == "gpt2" ? PreTokenizerKind::kGpt2
                                                : PreTokenizerKind::kCl100k;

  std::string rank_file = read_file(argv[1]);
  std::unique_ptr<BpeRanks> owned;
  Status st;
  double load_s = best_of(repeat, [&] { st = BpeRanks::FromTiktoken(rank_file, &owned); });
  if (!st.ok()) {
    std::fprintf(stderr, "load: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("load %s: %zu tokens in %.2f ms\n", argv[1], owned->size(), load_s * 1e3);
  std::shared_ptr<const BpeRanks> ranks(std::move(owned));
  std::unique_ptr<BpeEncoder> enc;
  st = BpeEncoder::Create(ranks, kind, {}, &enc);
  if (!st.ok()) {
    std::fprintf(stderr, "create: %s\n", st.message().c_str());
    return 1;
  }
  NextPieceFn next = next_piece_fn(kind);

  std::printf("%-28s %10s %10s %10s %10s %10s %9s\n", "corpus", "MB", "lex MB/s", "bpe MB/s", "all MB/s",
              "2KB MB/s", "tokens");
  for (const char* path : corpora) {
    std::string text = read_file(path);
    const uint8_t* t = reinterpret_cast<const uint8_t*>(text.data());
    const size_t n = text.size();
    std::vector<uint32_t> starts, ends;
    double lex_s = best_of(repeat, [&] {
      starts.clear();
      ends.clear();
      for (size_t pos = 0; pos < n;) {
        size_t e = next(t, n, pos);
        starts.push_back(static_cast<uint32_t>(pos));
        ends.push_back(static_cast<uint32_t>(e));
        pos = e;
      }
    });
    std::vector<uint32_t> ids;
    double bpe_s = best_of(repeat, [&] {
      ids.clear();
      enc->EncodePieces(text, starts.data(), ends.data(), starts.size(), &ids);
    });
    std::vector<uint32_t> all;
    double all_s = best_of(repeat, [&] {
      all.clear();
      enc->EncodeOrdinary(text, &all, threads);
    });
    if (all != ids) std::printf("  !! EncodeOrdinary differs from EncodePieces\n");
    // ~2 KB documents, one EncodeOrdinary call each (the Python benchmark's cold workload,
    // minus the binding): cut at UTF-8 character boundaries.
    std::vector<std::pair<size_t, size_t>> docs;
    for (size_t pos = 0; pos < n;) {
      size_t end = std::min(n, pos + 2048);
      while (end < n && (t[end] & 0xC0) == 0x80) ++end;
      docs.emplace_back(pos, end);
      pos = end;
    }
    std::vector<uint32_t> doc_ids;
    double docs_s = best_of(repeat, [&] {
      for (const auto& d : docs) {
        doc_ids.clear();
        enc->EncodeOrdinary(std::string_view(text).substr(d.first, d.second - d.first), &doc_ids, 1);
      }
    });
    const char* base = std::strrchr(path, '/');
    double mb = n / 1e6;
    std::printf("%-28s %10.2f %10.1f %10.1f %10.1f %10.1f %9zu\n", base ? base + 1 : path, mb, mb / lex_s,
                mb / bpe_s, mb / all_s, mb / docs_s, all.size());
  }

  if (worst) {
    struct Case {
      const char* name;
      std::string text;
    };
    std::string cjk;
    for (int i = 0; i < 100000; ++i) cjk += "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";  // 日本語
    std::string letters;
    uint32_t x = 12345;
    for (int i = 0; i < 1000000; ++i) {
      x = x * 1103515245u + 12345u;
      letters.push_back(static_cast<char>('a' + (x >> 16) % 26));
    }
    std::vector<Case> cases = {
        {"400k x 'a'", std::string(400000, 'a')},
        {"400k x 'é'", [] { std::string s; for (int i = 0; i < 400000; ++i) s += "\xc3\xa9"; return s; }()},
        {"1M x 'a'", std::string(1000000, 'a')},
        {"1M x '^'", std::string(1000000, '^')},
        {"1M digits", [] { std::string s; for (int i = 0; i < 1000000; ++i) s.push_back('0' + i * 7 % 10); return s; }()},
        {"300k CJK chars", cjk},
        {"1M random letters", letters},
        {"1M x ' '", std::string(1000000, ' ')},
    };
    for (const auto& c : cases) {
      std::vector<uint32_t> out;
      double s = best_of(std::max(1, repeat / 2), [&] {
        out.clear();
        enc->EncodeOrdinary(c.text, &out, 1);
      });
      std::printf("worst %-20s %8zu bytes %9.2f ms %8zu tokens\n", c.name, c.text.size(), s * 1e3, out.size());
    }
  }
  return 0;
}
