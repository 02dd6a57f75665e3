// The metadata service's transport: one HTTP listener on 169.254.169.254:80 inside every VPC's
// network namespace, owned by kumod (which has the store), on kumod's io_context.
//
// A caller is known by the port its packets came in on, never by an address it could spoof:
// the VPC's bridge table marks every packet of an instance's port with the port's private
// address, and the namespace's tcp_fwmark_accept hands the SYN's mark to the accepted socket
// (SO_MARK). The listener's namespace names the VPC, so (VPC, mark) names one instance; an
// instance of another VPC or account cannot reach this namespace at all.
//
// The sockets are opened from a short-lived thread that joins the namespace (a socket stays in
// the namespace it was created in), so kumod's own threads never change namespace.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "host/imds/metadata.h"
#include "store/store.h"

namespace kumo::imds {

class Server {
 public:
  // ns_path(vpc id) → the VPC's namespace, e.g. host::VpcNamespacePath(daemon id, vpc id).
  // services: one per region (each signs identity documents with its region's key).
  Server(boost::asio::io_context& ioc, store::Store& store,
         std::map<std::string, const MetadataService*> services,
         std::function<std::string(const std::string&)> ns_path);
  ~Server();

  // Indexes the instances (by VPC and private address) and serves every VPC that has one with
  // a container: opens the listeners missing (or whose namespace was recreated), closes those
  // of VPCs without instances. Cheap when nothing changed; called after each reconcile pass.
  void Sync(const std::vector<store::Resource>& instances);
  // Closes every listener.
  void Stop();

  // One request of the caller behind (VPC, packet mark): what a listener's session answers.
  Response Serve(const std::string& vpc_id, uint32_t mark, const Request& req);

  // For tests: the VPCs served now.
  std::vector<std::string> ServedVpcs();

  struct Listener;

 private:
  boost::asio::io_context& ioc_;
  store::Store& store_;
  std::map<std::string, const MetadataService*> services_;
  std::function<std::string(const std::string&)> ns_path_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Listener>> listeners_;  // by VPC id
  struct Key {
    std::string account_id, region, instance_id;
  };
  std::map<std::pair<std::string, uint32_t>, Key> index_;  // (VPC id, private address)
  bool Find(const std::string& vpc_id, uint32_t ip, Key* out);
};

}  // namespace kumo::imds
