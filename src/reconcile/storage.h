// What the instance and storage steps of the reconciler share about volume records.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "host/agent/host.h"
#include "store/store.h"

namespace kumo::reconcile {

// The volume's attachment, or null when detached.
nlohmann::json AttachmentOf(const store::Resource& v);
host::VolumeMount MountOf(const store::Resource& v);
// Where the volume's filesystem may be mounted now, for a grow or a snapshot.
host::VolumeSpec VolumeSpecOf(const store::Resource& v,
                              const std::map<std::string, const store::Resource*>& instances);

}  // namespace kumo::reconcile
