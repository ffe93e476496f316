// C++ trampoline through which the runtime calls a host_build_graph
// orchestration function: a C++ exception escaping user code is caught here
// and reported through a bounded buffer, so it never unwinds into Rust.
#include <cstddef>
#include <cstring>
#include <exception>

namespace {

void copy_message(char *err, std::size_t errlen, const char *msg) noexcept {
    if (err == nullptr || errlen == 0) {
        return;
    }
    if (msg == nullptr) {
        msg = "";
    }
    std::size_t n = std::strlen(msg);
    if (n >= errlen) {
        n = errlen - 1;
    }
    std::memcpy(err, msg, n);
    err[n] = '\0';
}

}  // namespace

// Calls fn(rt, args), storing its return value in *rc. Returns 0 on a normal
// return, 1 if a std::exception escaped (what() copied to err), 2 otherwise.
extern "C" int simpler_call_hbg_entry(int (*fn)(void *, const void *), void *rt, const void *args, int *rc, char *err,
                                      std::size_t errlen) noexcept {
    copy_message(err, errlen, "");
    try {
        *rc = fn(rt, args);
        return 0;
    } catch (const std::exception &e) {
        copy_message(err, errlen, e.what());
        return 1;
    } catch (...) {
        copy_message(err, errlen, "unknown C++ exception (not derived from std::exception)");
        return 2;
    }
}
