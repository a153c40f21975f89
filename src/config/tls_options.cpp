// The TLS option tables (origin `tls`, listener `tls`, certificates) and their parsers.
#include "config/parse.hpp"

namespace ec::config {

namespace {

using namespace detail;

constexpr std::string_view g_tls = "TLS";

std::string check_tls_server_name(std::string_view v) {
    if (v.empty() || v.size() > 253 || v.find_first_of(" /:\t\r\n") != std::string_view::npos)
        return "expected a host name";
    return "";
}

std::string check_tls_file_name(std::string_view v) {
    if (v.empty()) return "expected a file name";
    if (v.find('\0') != std::string_view::npos) return "expected a file name without NUL";
    return "";
}

using OT = OriginTls;

const Option<OriginTls> g_origin_tls[] = {
    {.name = "verify",
     .type = Type::boolean,
     .field = &OT::verify,
     .default_json = "true",
     .group = g_tls,
     .doc = "Verify the origin's certificate chain and name; false accepts any certificate "
            "(testing only)."},
    {.name = "ca_file",
     .type = Type::string,
     .field = &OT::ca_file,
     .default_json = "null",
     .nullable = true,
     .group = g_tls,
     .doc = "PEM file of the CAs to trust instead of the system store (/etc/ssl/certs).",
     .check = check_tls_file_name},
    {.name = "server_name",
     .type = Type::string,
     .field = &OT::server_name,
     .default_json = "null",
     .nullable = true,
     .group = g_tls,
     .doc = "Name sent as SNI and verified against the certificate; null uses the origin's host "
            "override, else the server's host.",
     .check = check_tls_server_name},
    {.name = "client_cert",
     .type = Type::string,
     .field = &OT::client_cert,
     .default_json = "null",
     .nullable = true,
     .group = g_tls,
     .doc = "PEM certificate (then intermediates) presented to origins that ask for one; "
            "relative names are looked up in $CREDENTIALS_DIRECTORY first.",
     .check = check_tls_file_name},
    {.name = "client_key",
     .type = Type::string,
     .field = &OT::client_key,
     .default_json = "null",
     .nullable = true,
     .group = g_tls,
     .doc = "PEM private key of client_cert (read once at start/reload, never logged).",
     .check = check_tls_file_name},
    {.name = "min_version",
     .type = Type::enumeration,
     .field = &OT::min_version,
     .default_json = R"("1.2")",
     .choices = "1.2|1.3",
     .group = g_tls,
     .doc = "Lowest TLS version offered to the origin."},
};

using LT = ListenTls;

const Option<ListenTls> g_listen_tls[] = {
    {.name = "certificates",
     .type = Type::certificates,
     .field = &LT::certificates,
     .required = true,
     .group = g_tls,
     .doc = "Certificates chosen by the client's SNI name (exact, then *.wildcard); the first is "
            "the default. Reloads swap them for new handshakes."},
    {.name = "min_version",
     .type = Type::enumeration,
     .field = &LT::min_version,
     .default_json = R"("1.2")",
     .choices = "1.2|1.3",
     .group = g_tls,
     .doc = "Lowest TLS version accepted (TLS 1.1 and older are never accepted)."},
    {.name = "handshake_timeout_ms",
     .type = Type::duration,
     .field = &LT::handshake_timeout_ms,
     .default_json = "10000",
     .min = 100,
     .max = 600000,
     .group = g_tls,
     .doc = "A client that has not completed its handshake by then is closed."},
    {.name = "max_handshakes",
     .type = Type::integer,
     .field = &LT::max_handshakes,
     .default_json = "256",
     .min = 1,
     .max = 65535,
     .group = g_tls,
     .doc = "Handshakes in progress at once on this listener; a connection arriving over it is "
            "closed at once."},
};

using CS = CertificateSpec;

const Option<CertificateSpec> g_certificate[] = {
    {.name = "cert",
     .type = Type::string,
     .field = &CS::cert,
     .required = true,
     .group = g_tls,
     .doc = "PEM file: the certificate, then its intermediates in order; relative names are "
            "looked up in $CREDENTIALS_DIRECTORY first (systemd LoadCredential=).",
     .check = check_tls_file_name},
    {.name = "key",
     .type = Type::string,
     .field = &CS::key,
     .required = true,
     .group = g_tls,
     .doc = "PEM private key matching cert (read once at start/reload, never logged).",
     .check = check_tls_file_name},
    {.name = "ocsp",
     .type = Type::string,
     .field = &CS::ocsp,
     .default_json = "null",
     .nullable = true,
     .group = g_tls,
     .doc = "DER OCSP response stapled for clients that ask (refreshed by a reload).",
     .check = check_tls_file_name},
};

} // namespace

std::span<const Option<OriginTls>> tls_origin_options() {
    return g_origin_tls;
}
std::span<const Option<ListenTls>> tls_listen_options() {
    return g_listen_tls;
}
std::span<const Option<CertificateSpec>> tls_certificate_options() {
    return g_certificate;
}

namespace detail {

Status parse_origin_tls(element v, OriginTls& out, const Ctx& ctx, std::string_view path) {
    OriginTls tls = origin_tls_defaults();
    if (!v.is_null()) {
        Status st = parse_object(tls_origin_options(), v, tls, ctx, path);
        if (!st) return st;
        tls.enabled = true;
    }
    out = std::move(tls);
    return Status::ok();
}

Status parse_listen_tls(element v, ListenTls& out, const Ctx& ctx, std::string_view path) {
    ListenTls tls;
    if (!v.is_null()) {
        tls = listen_tls_defaults();
        Status st = parse_object(tls_listen_options(), v, tls, ctx, path);
        if (!st) return st;
    }
    out = std::move(tls);
    return Status::ok();
}

Status parse_certificates(element v, std::vector<CertificateSpec>& out, const Ctx& ctx,
                          std::string_view path) {
    simdjson::dom::array arr;
    if (v.get(arr) || arr.size() == 0)
        return error_at(ctx, path,
                        "expected a non-empty array of {\"cert\", \"key\"} objects, got " +
                            describe(v));
    std::vector<CertificateSpec> certs;
    for (element e : arr) {
        CertificateSpec c;
        for (const auto& o : g_certificate)
            apply_default(o, c);
        Status st =
            parse_object(tls_certificate_options(), e, c, ctx, index_path(path, certs.size()));
        if (!st) return st;
        certs.push_back(std::move(c));
    }
    out = std::move(certs);
    return Status::ok();
}

} // namespace detail

} // namespace ec::config
