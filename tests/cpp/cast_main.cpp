// Driver for tests/test_fixed_vs_apfixed.py. Usage: cast_main IN.bin OUT.bin PER_TYPE
// IN holds n_types blocks of PER_TYPE native doubles; block t goes through cast t of the generated
// table (run_all), and OUT receives the raw bits of the results as uint64, in the same layout.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern const std::size_t n_types;
void run_all(const double* in, std::uint64_t* out, std::size_t per_type);

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s IN.bin OUT.bin PER_TYPE\n", argv[0]);
    return 2;
  }
  const std::size_t per_type = std::strtoull(argv[3], nullptr, 10);
  const std::size_t total = per_type * n_types;
  std::vector<double> in(total);
  std::vector<std::uint64_t> out(total);
  std::FILE* fin = std::fopen(argv[1], "rb");
  if (!fin || std::fread(in.data(), sizeof(double), total, fin) != total) {
    std::fprintf(stderr, "cannot read %zu doubles from %s\n", total, argv[1]);
    return 1;
  }
  std::fclose(fin);
  run_all(in.data(), out.data(), per_type);
  std::FILE* fout = std::fopen(argv[2], "wb");
  if (!fout || std::fwrite(out.data(), sizeof(std::uint64_t), total, fout) != total) {
    std::fprintf(stderr, "cannot write %s\n", argv[2]);
    return 1;
  }
  std::fclose(fout);
  return 0;
}
