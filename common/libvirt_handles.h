#pragma once

// RAII over libvirt's C handles, and libvirt errors as Status. Included only by the libvirt
// adapters (collector/libvirt_source.cc, balancer/actuator/libvirt_actuator.cc), which link
// libvirt themselves.

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace ballast::libvirt {

struct ConnectCloser {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
using ConnectPtr = std::unique_ptr<virConnect, ConnectCloser>;

struct DomainFreer {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using DomainPtr = std::unique_ptr<virDomain, DomainFreer>;

// Typed parameters built with virTypedParamsAdd*; freed with virTypedParamsFree.
class TypedParams {
 public:
  TypedParams() = default;
  ~TypedParams() { virTypedParamsFree(params_, n_); }
  TypedParams(const TypedParams&) = delete;
  TypedParams& operator=(const TypedParams&) = delete;
  virTypedParameterPtr* ptr() { return &params_; }
  virTypedParameterPtr get() const { return params_; }
  int* count() { return &n_; }
  int n() const { return n_; }
  int* max() { return &max_; }

 private:
  virTypedParameterPtr params_ = nullptr;
  int n_ = 0;
  int max_ = 0;
};

// libvirt prints every error to stderr by default; Ballast reports them as Status instead.
// Call once before the first libvirt call.
inline void SilenceDefaultErrorPrinting() {
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
}

// The last libvirt error of this thread as a Status naming the call; resets it.
inline Status LastError(const std::string& call) {
  virErrorPtr err = virGetLastError();
  std::string msg = call + ": " + (err && err->message ? err->message : "unknown libvirt error");
  const int code = err ? err->code : 0;
  virResetLastError();
  if (code == VIR_ERR_NO_DOMAIN) return Status::NotFound(msg);
  if (code == VIR_ERR_NO_SUPPORT || code == VIR_ERR_ARGUMENT_UNSUPPORTED) {
    return Status::FailedPrecondition(msg);
  }
  return Status::Unavailable(msg);
}

}  // namespace ballast::libvirt
