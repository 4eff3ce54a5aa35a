// Hosted advertisements on the air: while an adapter has a registered advertisement, the air
// carries it as a peripheral with that adapter's address, so the other adapters' discovery finds
// it (advertising data from the LEAdvertisement1 object) and can connect to it. A connection from
// hciN becomes a remote central (remote_central.h) on the advertising adapter's hosted
// application, and the GATT database that hciN's Device exports mirrors that application:
// reads, writes and CCC writes go through the application's GattCharacteristic1 methods, and its
// notifications and indications come back as the Device's. This is how the gateway's central can
// use the gateway's own hosted peripheral (loopback) with two adapters. Loop thread only.
//
// Limits: descriptors of a hosted characteristic are exported but read as empty; writes at an
// offset (WriteValue with "offset") are refused with Request Not Supported; the database a
// central sees is the one registered when the advertising device was last rebuilt, which does not
// happen while a link holds it: a change while connected shows after the next change unlinked.
#pragma once

#include <map>
#include <memory>
#include <string>

namespace gattway::sim {

class Adapter;
class Daemon;

class HostedAir {
 public:
  explicit HostedAir(Daemon& daemon);
  ~HostedAir();  // every hosted peripheral leaves the air (links drop)
  HostedAir(const HostedAir&) = delete;
  HostedAir& operator=(const HostedAir&) = delete;

  // `adapter`'s advertisements or applications changed: its peripheral in the air is rebuilt,
  // updated (while a link holds it: advertising data only) or removed.
  void hostedChanged(Adapter& adapter);

 private:
  class Peer;
  Daemon& daemon_;
  std::map<std::string, std::unique_ptr<Peer>> peers_;  // by advertising adapter
};

}  // namespace gattway::sim
