public import Curl
import Foundation
public import Switchyard

/// What the agent spec lets `http_fetch` reach.
public struct HTTPFetchPolicy: Sendable, Hashable {
    /// Host names (`api.github.com`) or patterns (`*.example.com`); nothing else is fetched.
    public var allowHosts: [String] = []
    /// Whether loopback, private, link-local and metadata addresses may be reached.
    public var allowPrivateAddresses = false
    /// Special-use addresses that may be reached all the same, as `ADDRESS` or `ADDRESS/BITS`
    /// (a test server on `127.0.0.1`, an intranet's `10.1.0.0/16`).
    public var allowAddresses: [AddressRange] = []
    public var maximumBytes = 10 << 20
    public var timeout: Duration = .seconds(30)
    public var maximumRedirects = 5
    /// The labels fetched content gets: untrusted, and public unless the spec says otherwise.
    public var labels = Labels(.public, .untrusted)

    public init(allowHosts: [String] = [], allowPrivateAddresses: Bool = false) {
        self.allowHosts = allowHosts
        self.allowPrivateAddresses = allowPrivateAddresses
    }

    /// Reads `allow_hosts`, `allow_private_addresses`, `allow_addresses`, `max_bytes`,
    /// `timeout` (seconds) and `confidentiality`.
    public init(options: ToolOptions) throws(ConfigurationError) {
        var options = options
        allowHosts = try options.strings("allow_hosts") ?? []
        for pattern in allowHosts
        where (try? HTTPFetchTool.normalize(host: pattern.hasPrefix("*.") ? String(pattern.dropFirst(2)) : pattern))
            == nil
        {
            throw ConfigurationError(at: options.location, message: "allow_hosts: '\(pattern)' is not a host name")
        }
        allowPrivateAddresses = try options.bool("allow_private_addresses") ?? false
        for text in try options.strings("allow_addresses") ?? [] {
            guard let range = AddressRange(text) else {
                throw ConfigurationError(
                    at: options.location, message: "allow_addresses: '\(text)' is not an address or ADDRESS/BITS")
            }
            allowAddresses.append(range)
        }
        maximumBytes = try options.int("max_bytes", in: 1...(1 << 30)) ?? maximumBytes
        if let seconds = try options.int("timeout", in: 1...3600) { timeout = .seconds(seconds) }
        if let level = try options.string("confidentiality") {
            guard let confidentiality = Confidentiality(name: level) else {
                throw ConfigurationError(
                    at: options.location, message: "confidentiality: expected public, internal, private or secret")
            }
            labels.confidentiality = confidentiality
        }
        try options.finish()
    }

    func allows(host: String) -> Bool {
        allowHosts.contains { pattern in
            let pattern = pattern.lowercased()
            if pattern.hasPrefix("*.") { return host.hasSuffix(pattern.dropFirst(1)) }
            return host == pattern
        }
    }
}

/// `http_fetch`: GET or POST to an allowed host, the address checked after resolution and
/// after every redirect, the connection pinned to the checked address.
public struct HTTPFetchTool: Tool {
    public let policy: HTTPFetchPolicy
    public let client: HTTPClient

    public init(policy: HTTPFetchPolicy, client: HTTPClient = .shared) {
        self.policy = policy
        self.client = client
    }

    public var name: String { "http_fetch" }
    public var reads: Labels { policy.labels }
    public var description: String {
        let hosts = policy.allowHosts.isEmpty ? "none are allowed yet" : policy.allowHosts.joined(separator: ", ")
        return
            "Fetch a web page or API over HTTP(S): GET, or POST with a body. HTML comes back as readable text. Allowed hosts: \(hosts)."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "url": ["type": "string", "minLength": 1, "maxLength": 8192],
                "method": ["type": "string", "enum": ["GET", "POST"]],
                "headers": ["type": "object", "description": "Request header fields, name to value."],
                "body": ["type": "string", "description": "The request body (POST)."],
                "start": [
                    "type": "integer", "minimum": 0,
                    "description": "Skip this many characters of the text (to read on).",
                ],
            ],
            "required": ["url"],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        var url = arguments.string("url") ?? ""
        var method = HTTPMethod(rawValue: arguments.string("method") ?? "GET")
        var body = arguments.string("body").map { Array($0.utf8) }
        if method == .get, body != nil {
            throw ToolError(.invalidArguments, tool: name, "a GET has no body; use method POST")
        }
        var headers = HTTPHeaders()
        for (field, value) in arguments["headers"]?.objectValue ?? [:] {
            guard let text = value.stringValue else {
                throw ToolError(.invalidArguments, tool: name, "header \(field) must be text")
            }
            if field.lowercased() == "host" {
                throw ToolError(
                    .invalidArguments, tool: name, "the Host header comes from the URL", rule: "host-header")
            }
            headers.add(field, text)
        }

        var hops: [String] = []
        for _ in 0...policy.maximumRedirects {
            // What leaves besides the URL: the header fields given, then the body.
            let sent = headers.fields.flatMap { Array("\($0.name): \($0.value)\r\n".utf8) } + (body ?? [])
            let target = try await check(url, body: sent, context: context)
            hops.append(target.parts.url)
            var request = HTTPRequest(method: method, url: target.parts.url, headers: headers, body: body)
            request.timeouts = HTTPTimeouts(connect: .seconds(10), idle: policy.timeout, total: policy.timeout)
            request.pinnedAddresses = target.pin.map { [$0] } ?? []
            request.protocols = ["http", "https"]
            request.bypassProxy = true
            let fetched = try await fetch(request)
            if [301, 302, 303, 307, 308].contains(fetched.status), let location = fetched.headers["location"] {
                url = (try? URLParts(location, relativeTo: target.parts.url).url) ?? location
                if fetched.status == 303 || (method == .post && fetched.status != 307 && fetched.status != 308) {
                    method = .get
                    body = nil
                }
                continue
            }
            return output(
                fetched, url: target.parts.url, redirects: hops.dropLast(), start: arguments.int("start") ?? 0)
        }
        throw ToolError(
            .failed, tool: name, "more than \(policy.maximumRedirects) redirects: \(hops.joined(separator: " → "))")
    }

    /// Where a URL may go: an allowed host, resolved to addresses the policy allows, cleared
    /// by the guard; the address to pin the connection to (none for an address literal).
    private func check(_ url: String, body: [UInt8], context: ToolContext) async throws(ToolError) -> (
        parts: URLParts, pin: String?
    ) {
        if url.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw ToolError(.refused, tool: name, "the URL contains control characters", rule: "url-control-bytes")
        }
        let parts: URLParts
        do {
            parts = try URLParts(url)
        } catch {
            throw ToolError(.invalidArguments, tool: name, "not a URL: \(url) (\(error.message))")
        }
        guard parts.scheme == "http" || parts.scheme == "https" else {
            throw ToolError(
                .refused, tool: name, "only http and https URLs are fetched, not \(parts.scheme):", rule: "scheme")
        }
        let host: String
        do {
            host = try Self.normalize(host: parts.host)
        } catch {
            throw ToolError(
                .refused, tool: name, "the host name '\(parts.host)' is not acceptable: \(error)", rule: "host-name")
        }
        guard policy.allows(host: host) else {
            throw ToolError(
                .refused, tool: name,
                "\(host) is not an allowed host (allowed: \(policy.allowHosts.isEmpty ? "none; the spec's tools.http_fetch.allow_hosts lists them" : policy.allowHosts.joined(separator: ", ")))",
                rule: "host-not-allowed")
        }
        let addresses: [IPAddress]
        do {
            addresses = try await IPAddress.resolve(host)
        } catch {
            throw ToolError(.failed, tool: name, "\(error)")
        }
        guard let first = addresses.first else { throw ToolError(.failed, tool: name, "\(host) has no address") }
        if !policy.allowPrivateAddresses {
            for address in addresses where !policy.allowAddresses.contains(where: { $0.contains(address) }) {
                if let reason = address.specialUse {
                    throw ToolError(
                        .refused, tool: name,
                        "\(host) resolves to \(address), \(reason); the spec does not allow private addresses",
                        rule: "private-address")
                }
            }
        }
        if let egressGuard = context.egressGuard,
            case .refuse(let reason) = await egressGuard.check(
                Egress(kind: .http, destination: parts.url, payload: body, source: name))
        {
            throw ToolError(.refused, tool: name, "the guard refused \(parts.url): \(reason)", rule: "guard")
        }
        // An address literal is not looked up, so there is nothing to pin.
        if IPAddress(host) != nil { return (parts, nil) }
        let literal = first.bytes.count == 16 ? "[\(first)]" : "\(first)"
        return (parts, "\(parts.host):\(parts.port):\(literal)")
    }

    private struct Fetched {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var truncated: Bool
    }

    private func fetch(_ request: HTTPRequest) async throws(ToolError) -> Fetched {
        do {
            return try await client.stream(request) { response in
                var body: [UInt8] = []
                var truncated = false
                for try await chunk in response.body {
                    let room = policy.maximumBytes - body.count
                    body.append(contentsOf: chunk.prefix(room))
                    if chunk.count > room {
                        truncated = true
                        break
                    }
                }
                return Fetched(status: response.status, headers: response.headers, body: body, truncated: truncated)
            }
        } catch let error as HTTPError {
            throw ToolError(
                error.code == .totalTimeout || error.code == .idleTimeout ? .timedOut : .failed, tool: name,
                error.description)
        } catch {
            throw ToolError(.failed, tool: name, "\(error)")
        }
    }

    private func output(_ fetched: Fetched, url: String, redirects: ArraySlice<String>, start: Int) -> ToolOutput {
        let type = fetched.headers["content-type"] ?? ""
        let lowered = type.lowercased()
        let text: String
        if lowered.contains("html") || (type.isEmpty && fetched.body.prefix(512).starts(with: Array("<!".utf8))) {
            text = HTMLText.text(from: fetched.body, url: url)
        } else if lowered.hasPrefix("text/") || lowered.contains("json") || lowered.contains("xml")
            || lowered.contains("javascript") || type.isEmpty,
            let decoded = String(validating: fetched.body, as: UTF8.self)
        {
            text = decoded
        } else {
            text = "(\(fetched.body.count) bytes of \(type.isEmpty ? "binary data" : type), not shown)\n"
        }
        var header = "HTTP \(fetched.status) \(url)\n"
        if !redirects.isEmpty { header += "redirected from: \(redirects.joined(separator: " → "))\n" }
        if !type.isEmpty { header += "content-type: \(type)\n" }
        if fetched.truncated { header += "[the body was cut at \(policy.maximumBytes) bytes]\n" }
        header += "\n"
        let rest = start > 0 ? String(text.dropFirst(start)) : text
        let shown = OutputLimit().prefix(of: rest)
        var body = String(shown)
        let truncated = shown.endIndex < rest.endIndex
        if truncated {
            if !body.hasSuffix("\n") { body += "\n" }
            body +=
                "[truncated: \(rest.count - shown.count) more characters not shown; call http_fetch again with start=\(start + shown.count)]\n"
        }
        return ToolOutput(
            text: header + body,
            data: [
                "url": .string(url), "status": .number(Double(fetched.status)), "content_type": .string(type),
                "bytes": .number(Double(fetched.body.count)), "redirects": .array(redirects.map(JSONValue.string)),
                "text": .string(rest),
            ], labels: policy.labels, truncated: truncated || fetched.truncated)
    }

    /// Lower case, no trailing dot; refuses empty names, control and non-ASCII bytes, and
    /// percent signs (an encoded name could read differently to the resolver).
    public static func normalize(host: String) throws -> String {
        var host = host.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        guard !host.isEmpty else { throw HostNameError("it is empty") }
        for scalar in host.unicodeScalars {
            if scalar.value < 0x21 || scalar.value == 0x7F {
                throw HostNameError("it contains a control byte or space")
            }
            if scalar.value > 0x7E { throw HostNameError("it is not ASCII (use its punycode form, xn--…)") }
            if scalar == "%" { throw HostNameError("it contains a percent sign") }
        }
        return host
    }
}

struct HostNameError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
