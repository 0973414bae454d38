#include <aerolog/producer.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  aerolog::ProducerOptions o;
  o.shm_dir = argv[1];
  o.capacity = 64 * 1024;
  auto p = aerolog::Producer::open("installed", o);
  aerolog::proto::Trade t{};
  t.qty = 1;
  auto r = p.publish(t);
  std::printf("published seq %llu\n", static_cast<unsigned long long>(r.seq));
  return r.seq == 1 ? 0 : 1;
}
