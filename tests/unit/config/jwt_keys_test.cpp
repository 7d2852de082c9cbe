// The `jwt` policy keys (src/config/jwt_keys.cpp): a good policy loads with its key material, and
// every broken one — an unknown algorithm, `none`, a missing key file, a key used with an
// algorithm of another family, a PEM text given as an HMAC secret, a bad JWKS, a claim rate-limit
// key without a JWT check — is an error naming the file, line, column and key. Key files are the
// python3-jwt fixtures (tests/unit/policy/jwt_fixtures.hpp), written to a temporary directory
// next to the config file (relative key paths are taken from the config's directory).
#include "config/yaml_loader.hpp"
#include "unit/policy/jwt_fixtures.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace haven::config {
namespace {

namespace fs = std::filesystem;
namespace fx = policy::jwt::fixtures;

constexpr const char* kPool = "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n";

// The listener's one route, with `policy` (indented under `jwt:`) as its jwt policy. Line 8 is
// the policy's first line.
std::string route_with_jwt(const std::string& policy, const std::string& extra_policies = "") {
    return "listeners:\n"
           "  - name: web\n"
           "    listen: 127.0.0.1:8080\n"
           "    routes:\n"
           "      - pool: web\n"
           "        policies:\n"
           "          jwt:\n" +
           policy + extra_policies + kPool;
}

class JwtKeys : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("haven_jwt_keys_test_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        write("rsa.pem", fx::kRsaPublicPem);
        write("ec.pem", fx::kEc256PublicPem);
        write("hs.secret", fx::kSecret);
        write("jwks.json", fx::kJwks);
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    void write(const std::string& name, std::string_view content) {
        std::ofstream(dir_ / name, std::ios::binary) << content;
    }
    LoadResult load(const std::string& yaml) {
        write("haven.yaml", yaml);
        return load_file((dir_ / "haven.yaml").string(), options());
    }
    // Every error as "haven.yaml:LINE:COLUMN: path: message", one per line.
    std::string errors(const std::string& yaml) {
        std::string out;
        for (const auto& e : load(yaml).errors) {
            std::string text = e.to_string();
            const std::string dir = dir_.string() + "/";
            if (text.rfind(dir, 0) == 0) text.erase(0, dir.size());
            for (auto at = text.find(dir); at != std::string::npos; at = text.find(dir)) text.erase(at, dir.size());
            out += text + "\n";
        }
        return out;
    }
    static LoadOptions options() {
        LoadOptions o;
        o.resolve_host = [](const std::string&) -> std::optional<std::string> { return "not found"; };
        return o;
    }
    fs::path dir_;
};

TEST_F(JwtKeys, AGoodPolicyLoadsWithItsKeyMaterial) {
    auto r = load(route_with_jwt("            issuer: https://issuer.example\n"
                                 "            audiences: [api]\n"
                                 "            algorithms: [RS256, ES256, HS256]\n"
                                 "            keys:\n"
                                 "              - { file: rsa.pem, kid: rsa-1, alg: RS256 }\n"
                                 "              - file: ec.pem\n"
                                 "              - secret_file: hs.secret\n"
                                 "            jwks_file: jwks.json\n"
                                 "            leeway: 10s\n"
                                 "            from: cookie:session\n"
                                 "            required: false\n"
                                 "            forward_claims: { sub: X-User, email: X-Email }\n",
                                 "          rate_limit: { limits: [\"5 per second\"], key: \"claim:sub\" }\n"));
    ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors.front().to_string());
    const auto& j = *r.config->listeners.at(0).routes.at(0).policies.jwt;
    EXPECT_EQ(j.issuers, std::vector<std::string>{"https://issuer.example"});
    EXPECT_EQ(j.algorithms, (std::vector<std::string>{"RS256", "ES256", "HS256"}));
    ASSERT_EQ(j.keys.size(), 3u);
    EXPECT_EQ(j.keys[0].kid, "rsa-1");
    EXPECT_EQ(j.keys[0].material, fx::kRsaPublicPem);
    EXPECT_EQ(j.keys[2].material, fx::kSecret);
    EXPECT_EQ(j.jwks, fx::kJwks);
    EXPECT_EQ(j.leeway, std::chrono::seconds(10));
    EXPECT_EQ(j.from, JwtFrom::Cookie);
    EXPECT_EQ(j.from_name, "session");
    EXPECT_FALSE(j.required);
    ASSERT_EQ(j.forward_claims.size(), 2u);
    EXPECT_EQ(j.forward_claims[1], (std::pair<std::string, std::string>{"email", "X-Email"}));
}

TEST_F(JwtKeys, UnknownAlgorithmAndNoneNameTheirPosition) {
    EXPECT_EQ(errors(route_with_jwt("            algorithms: [RS256, none, XS256]\n"
                                    "            keys: [ { file: rsa.pem } ]\n")),
              "haven.yaml:8:33: listeners[0].routes[0].policies.jwt.algorithms[1]: \"none\" is never allowed: an "
              "unsigned token proves nothing\n"
              "haven.yaml:8:39: listeners[0].routes[0].policies.jwt.algorithms[2]: unknown algorithm \"XS256\" "
              "(HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384)\n");
    EXPECT_NE(errors(route_with_jwt("            algorithms: [None]\n            keys: [ { file: rsa.pem } ]\n"))
                  .find("haven.yaml:8:26: listeners[0].routes[0].policies.jwt.algorithms[0]: \"none\" is never allowed"),
              std::string::npos);
}

TEST_F(JwtKeys, AMissingKeyFileNamesTheFileAndTheKey) {
    EXPECT_EQ(errors(route_with_jwt("            algorithms: [RS256]\n"
                                    "            keys:\n"
                                    "              - file: missing.pem\n")),
              "haven.yaml:10:23: listeners[0].routes[0].policies.jwt.keys[0].file: cannot read \"missing.pem\": No "
              "such file or directory\n");
}

TEST_F(JwtKeys, AKeyIsNeverUsedWithAnAlgorithmOfAnotherFamily) {
    // An RSA key given HS256 as its own alg; an HMAC secret as the only key for RS256; a public
    // key's PEM text as an HMAC secret (RS->HS key confusion).
    EXPECT_EQ(errors(route_with_jwt("            algorithms: [RS256, HS256]\n"
                                    "            keys:\n"
                                    "              - file: rsa.pem\n"
                                    "                alg: HS256\n"
                                    "              - secret_file: rsa.pem\n")),
              "haven.yaml:11:22: listeners[0].routes[0].policies.jwt.keys[0].alg: this RSA key cannot verify HS256 (a "
              "key is only used with algorithms of its own family)\n"
              "haven.yaml:12:30: listeners[0].routes[0].policies.jwt.keys[1].secret_file: \"rsa.pem\": holds PEM text: "
              "a public key is never an HMAC secret (that is the RS->HS key confusion attack); use `file:` for a PEM "
              "key\n");
    EXPECT_EQ(errors(route_with_jwt("            algorithms: [RS256, ES384]\n"
                                    "            keys: [ { secret_file: hs.secret }, { file: ec.pem } ]\n")),
              "haven.yaml:8:26: listeners[0].routes[0].policies.jwt.algorithms[0]: RS256 has no key of its family (it "
              "needs an RSA key)\n"
              "haven.yaml:8:33: listeners[0].routes[0].policies.jwt.algorithms[1]: ES384 has no key of its family (it "
              "needs an EC key on P-384)\n");
}

TEST_F(JwtKeys, ABadJwksNamesTheFileAndWhatIsWrong) {
    const std::string policy = "            algorithms: [RS256]\n            jwks_file: bad.json\n";
    write("bad.json", "{\"keys\": [");
    EXPECT_EQ(errors(route_with_jwt(policy)),
              "haven.yaml:9:24: listeners[0].routes[0].policies.jwt.jwks_file: \"bad.json\" is not valid JSON\n");
    write("bad.json", R"({"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]})");
    EXPECT_NE(errors(route_with_jwt(policy)).find("haven.yaml:9:24: listeners[0].routes[0].policies.jwt.jwks_file: "
                                                  "\"bad.json\" keys[0]: \"n\" is missing or not base64url"),
              std::string::npos);
    write("bad.json", R"({"keys": [{"kty": "oct", "k": "c2VjcmV0", "d": "x"}]})");
    EXPECT_EQ(errors(route_with_jwt(policy)), "haven.yaml:9:24: listeners[0].routes[0].policies.jwt.jwks_file: "
                                              "\"bad.json\" keys[0]: holds a private key; a JWKS for haven lists "
                                              "public keys only\n");
}

TEST_F(JwtKeys, AClaimRateLimitKeyNeedsAJwtCheck) {
    const std::string yaml = "listeners:\n"
                             "  - name: web\n"
                             "    listen: 127.0.0.1:8080\n"
                             "    routes:\n"
                             "      - pool: web\n"
                             "        policies:\n"
                             "          rate_limit: { limits: [\"1 per second\"], key: \"claim:sub\" }\n" +
                             std::string(kPool);
    EXPECT_EQ(errors(yaml), "haven.yaml:7:23: listeners[0].routes[0]: a rate limit keyed by claim:sub needs a jwt "
                            "policy on this route (or its listener) to take the claim from\n");
}

TEST_F(JwtKeys, AlgorithmsAndKeysAreRequired) {
    EXPECT_EQ(errors(route_with_jwt("            issuer: https://issuer.example\n")),
              "haven.yaml:8:13: listeners[0].routes[0].policies.jwt: needs algorithms: (e.g. algorithms: [RS256])\n"
              "haven.yaml:8:13: listeners[0].routes[0].policies.jwt: needs keys: or jwks_file: (the keys tokens are "
              "verified with)\n");
}

} // namespace
} // namespace haven::config
