import Foundation
import HTTPTool
import Switchyard
import SwitchyardTesting
import Testing

/// A loopback server with a page, an echo, redirects and a big body.
func makeServer() throws -> LoopbackHTTPServer {
    try LoopbackHTTPServer { request, writer in
        switch request.path {
        case "/page":
            writer.respond(
                status: 200, headers: [("Content-Type", "text/html; charset=utf-8")],
                text: """
                    <!doctype html><html><head><title>Release notes</title><style>p{color:red}</style>
                    <script>var secret = 1;</script></head><body><h1>Version 2</h1>
                    <p>Faster <b>parsing</b> and <a href="https://example.com/docs">the docs</a>.</p>
                    <ul><li>one</li><li>two</li></ul></body></html>
                    """)
        case "/echo":
            writer.respond(
                status: 200, headers: [("Content-Type", "application/json")],
                text:
                    #"{"method":"\#(request.method)","body":"\#(request.text)","custom":"\#(request.header("x-custom") ?? "")"}"#
            )
        case "/hop":
            writer.respond(status: 302, headers: [("Location", "/page")], text: "")
        case let path where path.hasPrefix("/away"):
            let target = String(request.target.split(separator: "=", maxSplits: 1).last ?? "")
            writer.respond(status: 302, headers: [("Location", target.removingPercentEncoding ?? target)], text: "")
        case "/big":
            writer.respond(
                status: 200, headers: [("Content-Type", "text/plain")], text: String(repeating: "x", count: 50_000))
        default:
            writer.respond(status: 404, text: "no")
        }
    }
}

func fetchTool(_ configure: (inout HTTPFetchPolicy) -> Void = { _ in }) -> HTTPFetchTool {
    var policy = HTTPFetchPolicy(allowHosts: ["127.0.0.1"])
    policy.allowAddresses = [AddressRange("127.0.0.1")!]
    configure(&policy)
    return HTTPFetchTool(policy: policy)
}

@Suite struct SSRFTests {
    /// Every way to reach this machine or the metadata service, with the host allowed by
    /// name so that the address check is what refuses.
    @Test func loopbackPrivateAndMetadataAddressesAreRefused() async throws {
        let server = try makeServer()
        defer { server.stop() }
        let port = server.port
        let hosts = [
            "127.0.0.1", "localhost", "::1", "0x7f.1", "2130706433", "127.1", "169.254.169.254", "10.1.2.3",
            "192.168.0.1", "0.0.0.0", "ip6-localhost", "fd00:ec2::254", "::ffff:127.0.0.1",
        ]
        let tool = HTTPFetchTool(policy: HTTPFetchPolicy(allowHosts: hosts))
        let urls = [
            "http://127.0.0.1:\(port)/page", "http://localhost:\(port)/page", "http://[::1]:\(port)/page",
            "http://0x7f.1:\(port)/page", "http://2130706433:\(port)/page", "http://127.1:\(port)/page",
            "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/", "http://192.168.0.1/",
            "http://0.0.0.0:\(port)/page", "http://[::ffff:127.0.0.1]:\(port)/page", "http://[fd00:ec2::254]/",
        ]
        for url in urls {
            await #expect("\(url)") {
                _ = try await tool.invoke(["url": .string(url)])
            } throws: { ($0 as? ToolError)?.rule == "private-address" }
        }
        // None of them reached the server.
        #expect(server.requestCount == 0)
    }

    @Test func aRedirectToAPrivateAddressIsRefusedBeforeItIsFollowed() async throws {
        let server = try makeServer()
        defer { server.stop() }
        // 127.0.0.1 is allowed (the test server); 127.0.0.2 and the metadata service are not.
        let tool = fetchTool { $0.allowHosts = ["127.0.0.1", "127.0.0.2", "169.254.169.254"] }
        for target in ["http://127.0.0.2:\(server.port)/page", "http://169.254.169.254/latest/meta-data/"] {
            let url =
                "http://127.0.0.1:\(server.port)/away?to=\(target.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
            await #expect {
                _ = try await tool.invoke(["url": .string(url)])
            } throws: { ($0 as? ToolError)?.rule == "private-address" }
        }
        #expect(server.requestCount == 2)  // the two first hops, never the second
        // A redirect to a host the spec does not name is refused too.
        let elsewhere = "http://127.0.0.1:\(server.port)/away?to=http%3A%2F%2Fevil.example%2F"
        await #expect {
            _ = try await tool.invoke(["url": .string(elsewhere)])
        } throws: { ($0 as? ToolError)?.rule == "host-not-allowed" }
    }

    @Test func malformedHostsSchemesAndURLsAreRefused() async throws {
        let tool = fetchTool { $0.allowHosts = ["*"] }
        let cases: [(String, String)] = [
            ("file:///etc/passwd", "scheme"),
            ("gopher://127.0.0.1/", "scheme"),
            ("http://127.0.0.1/\u{0}x", "url-control-bytes"),
            ("http://exa\tmple.com/", "url-control-bytes"),
            ("http://bücher.example/", "host-name"),
        ]
        for (url, rule) in cases {
            await #expect("\(url)") {
                _ = try await tool.invoke(["url": .string(url)])
            } throws: { error in (error as? ToolError)?.rule == rule || (error as? ToolError)?.code == .invalidArguments
            }
        }
        await #expect {
            _ = try await fetchTool().invoke(["url": "http://example.org/"])
        } throws: { ($0 as? ToolError)?.rule == "host-not-allowed" }
    }
}

@Suite struct HTTPFetchToolTests {
    /// An IPv6 literal is refused as what it is (`::1` is the loopback address, not "this
    /// network"), and fetched when allowed: its URL is not pinned through a malformed entry.
    @Test func anIPv6LiteralIsNamedRightAndFetchedWhenAllowed() async throws {
        #expect(IPAddress("::1")?.specialUse == "the loopback address (::1)")
        #expect(IPAddress("::ffff:127.0.0.1")?.specialUse?.hasPrefix("a loopback address") == true)
        let server = try LoopbackHTTPServer(ipv6: true) { _, writer in writer.respond(status: 200, text: "over v6") }
        defer { server.stop() }
        await #expect {
            _ = try await HTTPFetchTool(policy: HTTPFetchPolicy(allowHosts: ["::1"])).invoke([
                "url": .string("\(server.baseURL)/")
            ])
        } throws: { error in
            (error as? ToolError)?.rule == "private-address" && "\(error)".contains("the loopback address (::1)")
        }
        var policy = HTTPFetchPolicy(allowHosts: ["::1"])
        policy.allowAddresses = [AddressRange("::1")!]
        let output = try await HTTPFetchTool(policy: policy).invoke(["url": .string("\(server.baseURL)/")])
        #expect(output.text.contains("over v6"))
        #expect(server.requestCount == 1)
    }

    @Test func anAllowedLoopbackServerAnswersAndHTMLBecomesText() async throws {
        let server = try makeServer()
        defer { server.stop() }
        let output = try await fetchTool().invoke(["url": .string("http://127.0.0.1:\(server.port)/page")])
        #expect(output.labels == Labels(.public, .untrusted))
        #expect(
            output.text == """
                HTTP 200 http://127.0.0.1:\(server.port)/page
                content-type: text/html; charset=utf-8

                # Release notes

                # Version 2
                Faster parsing and the docs <https://example.com/docs>.
                - one
                - two

                """)
        #expect(!output.text.contains("secret"))
        #expect(!output.text.contains("color"))
    }

    @Test func postsFollowRedirectsAndCapTheBody() async throws {
        let server = try makeServer()
        defer { server.stop() }
        let tool = fetchTool { $0.maximumBytes = 10_000 }
        let echo = try await tool.invoke([
            "url": .string("http://127.0.0.1:\(server.port)/echo"), "method": "POST", "body": "hello",
            "headers": ["X-Custom": "yes"],
        ])
        #expect(echo.data["text"] == #"{"method":"POST","body":"hello","custom":"yes"}"#)
        let hop = try await tool.invoke(["url": .string("http://127.0.0.1:\(server.port)/hop")])
        #expect(hop.text.contains("redirected from: http://127.0.0.1:\(server.port)/hop\n"))
        #expect(hop.data["url"] == .string("http://127.0.0.1:\(server.port)/page"))
        let big = try await tool.invoke(["url": .string("http://127.0.0.1:\(server.port)/big")])
        #expect(big.truncated)
        #expect(big.data["bytes"] == 10_000)
        #expect(big.text.contains("[the body was cut at 10000 bytes]"))
    }

    struct Refuse: EgressGuard {
        let seen = Shared<[Egress]>([])
        func check(_ egress: Egress) async -> EgressDecision {
            seen.update { $0.append(egress) }
            return .refuse(reason: "the run holds private data and has read untrusted content")
        }
    }

    @Test func theGuardIsAskedBeforeAnythingLeaves() async throws {
        let server = try makeServer()
        defer { server.stop() }
        let guardian = Refuse()
        await #expect {
            _ = try await fetchTool().invoke(
                ["url": .string("http://127.0.0.1:\(server.port)/echo"), "method": "POST", "body": "private notes"],
                context: ToolContext(egressGuard: guardian))
        } throws: { ($0 as? ToolError)?.rule == "guard" }
        #expect(server.requestCount == 0)
        #expect(guardian.seen.value.map(\.payload) == [Array("private notes".utf8)])
        #expect(guardian.seen.value.first?.kind == .http)
    }

    /// Header fields leave too: the guard is shown them with the body, and so is `audit`.
    @Test func theGuardSeesTheHeaderFieldsWithTheBody() async throws {
        let server = try makeServer()
        defer { server.stop() }
        let guardian = Refuse()
        await #expect {
            _ = try await fetchTool().invoke(
                [
                    "url": .string("http://127.0.0.1:\(server.port)/echo"), "method": "POST", "body": "notes",
                    "headers": ["X-Data": "CANARY-1212"],
                ],
                context: ToolContext(egressGuard: guardian))
        } throws: { ($0 as? ToolError)?.rule == "guard" }
        #expect(server.requestCount == 0)
        #expect(guardian.seen.value.map(\.payload) == [Array("X-Data: CANARY-1212\r\nnotes".utf8)])
    }

    @Test func optionsAreReadStrictly() throws {
        let policy = try HTTPFetchPolicy(
            options: ToolOptions(
                [
                    "allow_hosts": ["api.github.com", "*.example.com"], "allow_addresses": ["10.0.0.0/8"],
                    "max_bytes": 1000,
                ],
                location: "tools.http_fetch"))
        #expect(policy.allowHosts == ["api.github.com", "*.example.com"])
        #expect(policy.allowAddresses.first?.contains(IPAddress("10.9.8.7")!) == true)
        #expect(policy.allowAddresses.first?.contains(IPAddress("11.0.0.1")!) == false)
        #expect(throws: ConfigurationError.self) {
            try HTTPFetchPolicy(options: ToolOptions(["allow_host": ["x"]], location: "tools.http_fetch"))
        }
        #expect(throws: ConfigurationError.self) {
            try HTTPFetchPolicy(
                options: ToolOptions(["allow_addresses": ["10.0.0.0/99"]], location: "tools.http_fetch"))
        }
    }
}
