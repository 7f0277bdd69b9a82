// ballast-keygen: writes a ZeroMQ CURVE key pair for a collector or the balancer.
//
//   ballast-keygen --dir /etc/ballast/keys node1
//     -> node1.key (secret, 0600: give it to node1's collector)
//        node1.pub (public: copy it into the balancer's allowlist directory)

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/curve_keys.h"

int main(int argc, char** argv) {
  CLI::App app{
      "ballast-keygen: writes a CURVE key pair NAME.key (secret, mode 0600) and NAME.pub.\n"
      "A collector's NAME must be the host name it publishes for; copy NAME.pub into the "
      "balancer's allowlist_dir. The balancer's own pair goes to its server_key_file, and its "
      ".pub to every collector's server_public_key_file."};
  std::string name;
  std::string dir = ".";
  bool force = false;
  app.add_option("name", name, "key name: the collector's host name, or e.g. 'balancer'")
      ->required();
  app.add_option("-d,--dir", dir, "directory to write into (created if missing)");
  app.add_flag("-f,--force", force, "replace an existing pair of that name");
  CLI11_PARSE(app, argc, argv);

  auto pair = ballast::GenerateCurveKeyPair();
  if (!pair.ok()) {
    std::cerr << "ballast-keygen: " << pair.status().message() << "\n";
    return 1;
  }
  ballast::Status st = ballast::WriteCurveKeyPair(dir, name, *pair, force);
  if (!st.ok()) {
    std::cerr << "ballast-keygen: " << st.message() << "\n";
    return 1;
  }
  std::cout << "wrote " << dir << "/" << name << ".key (secret) and " << dir << "/" << name
            << ".pub (public key " << pair->public_z85 << ")\n";
  return 0;
}
