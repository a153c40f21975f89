// JSON and number formatting helpers for edgecachectl's human output (simdjson DOM).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace ec::ctl {

using Json = simdjson::dom::element;

// Parses `text` with `parser`; the element lives as long as the parser's next parse. Throws
// CliError(kError, "<what>: not valid JSON") on bad input.
Json parse_json(simdjson::dom::parser& parser, std::string_view text, const char* what);

// Follows object keys; nullopt when a key is missing or a step is not an object.
std::optional<Json> at(Json e, std::initializer_list<std::string_view> path);
// The number at `path` as a double (integers included); `fallback` when absent or not a number.
double num(Json e, std::initializer_list<std::string_view> path, double fallback = 0);
// The string at `path`; `fallback` when absent or not a string.
std::string str(Json e, std::initializer_list<std::string_view> path, std::string fallback = "");
// The boolean at `path`; `fallback` when absent or not a boolean.
bool boolean(Json e, std::initializer_list<std::string_view> path, bool fallback = false);
bool is_number(Json e);
double as_number(Json e);

// Compact JSON text of `e` (for metadata passed through, and non-string values in text).
std::string minify(Json e);
// Indented JSON (two spaces), keys in document order, ending with a newline.
std::string pretty(Json e);
// A scalar as text: strings unquoted, everything else as compact JSON.
std::string scalar_text(Json e);

// 1234567 -> "1,234,567".
std::string fmt_count(double n);
// 12.345 -> "12.3"; 1234.5 -> "1,234"; for per-second rates.
std::string fmt_rate(double n);
// 0.9321 -> "93.2%".
std::string fmt_pct(double fraction);
// 3725 -> "1h 2m"; 59 -> "59s"; 90061 -> "1d 1h".
std::string fmt_duration(double seconds);
// A byte count as format_size does ("256MiB").
std::string fmt_bytes(double bytes);

// `s` safe for a terminal: control characters (C0, DEL, C1) and bytes that are not UTF-8
// shown as \xNN, so keys, titles and headers a client or origin chose cannot move the cursor,
// retitle the window or hide text. Every daemon-supplied string in human output goes through
// this (--json output stays exact).
std::string printable(std::string_view s);
// The same, keeping line feeds (multi-line messages).
std::string printable_lines(std::string_view s);

// Whether `s` is valid UTF-8 (values that are not are exported as base64).
bool valid_utf8(std::string_view s);

} // namespace ec::ctl
