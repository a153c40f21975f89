// ErrorPages: the operator's bodies for the 502, 503 and 504 answers the proxy makes itself.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "util/status.hpp"

namespace ec::cache {

struct ErrorPage {
    std::string content_type; // from the extension: .html, .json or .txt
    std::shared_ptr<const std::string> body;
};
using ErrorPages = std::map<int, ErrorPage>; // status -> page

// Reads the pages in `dir` ("" = none): files named 502.html, 503.json, 504.txt, ... (one per
// status). Other files are ignored. Read once, at start and on reload; never on a request.
// Errors (code "error_pages"), so a start or reload refuses the config: the directory or a page
// cannot be read, a page is over 1 MiB, two pages for one status, a page for a status other
// than 502, 503 or 504 ("500.html: only 502, 503 and 504 pages are used").
Result<ErrorPages> load_error_pages(const std::string& dir);

} // namespace ec::cache
