// daemon: bearer token comparison (every length, prefix, suffix, case) and the test-clock bound.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "daemon/router.hpp"
#include "daemon/test_hooks.hpp"

using ec::daemon::bearer_matches;

TEST_SUITE("daemon") {

    TEST_CASE("only the whole token matches, whatever its length") {
        const std::string token = "s3cret-Token_0123456789";
        CHECK(bearer_matches("Bearer " + token, token));
        for (size_t n = 0; n <= token.size() + 3; ++n) {
            // Every prefix (and the token with bytes appended) is refused...
            std::string presented =
                n <= token.size() ? token.substr(0, n) : token + std::string(n - token.size(), 'x');
            CAPTURE(presented);
            CHECK(bearer_matches("Bearer " + presented, token) == (presented == token));
            // ...and so is every suffix.
            std::string suffix = token.substr(token.size() - std::min(n, token.size()));
            CHECK(bearer_matches("Bearer " + suffix, token) == (suffix == token));
        }
        // One byte wrong anywhere, including a NUL: refused.
        for (size_t i = 0; i < token.size(); ++i) {
            std::string bad = token;
            bad[i] ^= 0x20;
            CHECK_FALSE(bearer_matches("Bearer " + bad, token));
            bad[i] = '\0';
            CHECK_FALSE(bearer_matches("Bearer " + bad, token));
        }
        // A short token and the longer ones it prefixes.
        CHECK(bearer_matches("Bearer s", "s"));
        CHECK_FALSE(bearer_matches("Bearer s", "s3cret"));
        CHECK_FALSE(bearer_matches("Bearer s3cret", "s"));
        CHECK_FALSE(bearer_matches("Bearer s3cre", "s3cret"));
        CHECK_FALSE(bearer_matches("Bearer s3crets", "s3cret"));
        CHECK_FALSE(bearer_matches("Bearer 3cret", "s3cret"));
    }

    TEST_CASE("the scheme is case-insensitive; the token is not") {
        CHECK(bearer_matches("Bearer abc", "abc"));
        CHECK(bearer_matches("bearer abc", "abc"));
        CHECK(bearer_matches("BEARER abc", "abc"));
        CHECK(bearer_matches("bEaReR abc", "abc"));
        CHECK_FALSE(bearer_matches("Bearer ABC", "abc"));
        CHECK_FALSE(bearer_matches("Basic abc", "abc"));
        CHECK_FALSE(bearer_matches("Bearerabc", "abc"));
        CHECK_FALSE(bearer_matches("abc", "abc"));
        CHECK_FALSE(bearer_matches("Token abc", "abc"));
        // Surrounding whitespace (OWS) is not part of the token.
        CHECK(bearer_matches("Bearer  abc \t", "abc"));
    }

    TEST_CASE("empty values never match a token") {
        CHECK_FALSE(bearer_matches("", "abc"));
        CHECK_FALSE(bearer_matches("Bearer", "abc"));
        CHECK_FALSE(bearer_matches("Bearer ", "abc"));
        CHECK_FALSE(bearer_matches("Bearer    ", "abc"));
        CHECK_FALSE(bearer_matches("", "x"));
    }

    TEST_CASE("the test clock refuses an advance whose milliseconds would overflow") {
        using ec::daemon::clock_advance_ms;
        CHECK(clock_advance_ms("0") == 0);
        CHECK(clock_advance_ms("3600") == 3600000);
        CHECK(clock_advance_ms("-60") == -60000);
        constexpr int64_t century = 100LL * 366 * 24 * 3600;
        CHECK(clock_advance_ms(std::to_string(century)) == century * 1000);
        CHECK_FALSE(clock_advance_ms(std::to_string(century + 1)));
        CHECK_FALSE(clock_advance_ms(std::to_string(-century - 1)));
        CHECK_FALSE(clock_advance_ms("9223372036854775807"));
        CHECK_FALSE(clock_advance_ms("-9223372036854775808"));
        CHECK_FALSE(clock_advance_ms(""));
        CHECK_FALSE(clock_advance_ms("1x"));
    }
}
