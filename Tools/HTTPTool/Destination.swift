import Foundation

/// An IP address, as 4 or 16 bytes.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }

    init(bytes: [UInt8]) { self.bytes = bytes }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var copy = bytes
        inet_ntop(bytes.count == 4 ? AF_INET : AF_INET6, &copy, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address.
    var embeddedIPv4: IPAddress? {
        guard bytes.count == 16 else { return nil }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && (bytes[10..<12] == [0xFF, 0xFF] || bytes[10..<12] == [0, 0]) {
            return IPAddress(bytes: Array(bytes[12..<16]))
        }
        if bytes[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] {
            return IPAddress(bytes: Array(bytes[12..<16]))
        }
        if bytes[0..<2] == [0x20, 0x02] { return IPAddress(bytes: Array(bytes[2..<6])) }
        return nil
    }

    /// Why the address is not on the public internet (loopback, private, link-local and the
    /// cloud metadata service, …), or `nil` when it is.
    public var specialUse: String? {
        // IPv6's own ranges first: `::1` is the loopback address, not the IPv4-compatible 0.0.0.1.
        for range in bytes.count == 4 ? Self.v4Ranges : Self.v6Ranges where range.contains(bytes) {
            return range.name
        }
        if let inner = embeddedIPv4, let reason = inner.specialUse { return "\(reason) (inside \(self))" }
        return nil
    }

    private struct Range {
        var prefix: [UInt8]
        var bits: Int
        var name: String

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == prefix.count else { return false }
            for bit in 0..<bits {
                let mask = UInt8(0x80) >> (bit % 8)
                if address[bit / 8] & mask != prefix[bit / 8] & mask { return false }
            }
            return true
        }
    }

    private static func v4(_ text: String, _ bits: Int, _ name: String) -> Range {
        Range(prefix: IPAddress(text)!.bytes, bits: bits, name: name)
    }

    private static let v4Ranges: [Range] = [
        v4("0.0.0.0", 8, "'this network' (0.0.0.0/8)"),
        v4("10.0.0.0", 8, "a private address (10.0.0.0/8)"),
        v4("100.64.0.0", 10, "a carrier-grade NAT address (100.64.0.0/10)"),
        v4("127.0.0.0", 8, "a loopback address (127.0.0.0/8)"),
        v4("169.254.0.0", 16, "a link-local address, where cloud metadata services live (169.254.0.0/16)"),
        v4("172.16.0.0", 12, "a private address (172.16.0.0/12)"),
        v4("192.0.0.0", 24, "an IETF protocol address (192.0.0.0/24)"),
        v4("192.168.0.0", 16, "a private address (192.168.0.0/16)"),
        v4("198.18.0.0", 15, "a benchmarking address (198.18.0.0/15)"),
        v4("224.0.0.0", 4, "a multicast address (224.0.0.0/4)"),
        v4("240.0.0.0", 4, "a reserved address (240.0.0.0/4)"),
    ]

    private static let v6Ranges: [Range] = [
        Range(prefix: IPAddress("::")!.bytes, bits: 128, name: "the unspecified address (::)"),
        Range(prefix: IPAddress("::1")!.bytes, bits: 128, name: "the loopback address (::1)"),
        Range(prefix: IPAddress("fc00::")!.bytes, bits: 7, name: "a unique local address (fc00::/7)"),
        Range(prefix: IPAddress("fe80::")!.bytes, bits: 10, name: "a link-local address (fe80::/10)"),
        Range(prefix: IPAddress("fec0::")!.bytes, bits: 10, name: "a site-local address (fec0::/10)"),
        Range(prefix: IPAddress("ff00::")!.bytes, bits: 8, name: "a multicast address (ff00::/8)"),
    ]

    /// The addresses a host name resolves to (every one of them, both families). The lookup
    /// blocks, so it runs on a thread of its own, not on one the concurrency pool shares.
    public static func resolve(_ host: String) async throws -> [IPAddress] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try lookUp(host) }) }
        }
    }

    private static func lookUp(_ host: String) throws -> [IPAddress] {
        if let literal = IPAddress(host) { return [literal] }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            throw ResolutionError(host: host, message: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var entry = list
        while let current = entry {
            if let address = current.pointee.ai_addr {
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        withUnsafeBytes(of: v4.pointee.sin_addr) { Array($0) }
                    }
                    addresses.append(IPAddress(bytes: bytes))
                case AF_INET6:
                    let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        withUnsafeBytes(of: v6.pointee.sin6_addr) { Array($0) }
                    }
                    addresses.append(IPAddress(bytes: bytes))
                default: break
                }
            }
            entry = current.pointee.ai_next
        }
        var unique: [IPAddress] = []
        for address in addresses where !unique.contains(address) { unique.append(address) }
        return unique
    }
}

/// An address with a prefix length: `10.0.0.0/8`, `::1/128`, or one address.
public struct AddressRange: Sendable, Hashable {
    public var address: IPAddress
    public var bits: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let length = address.bytes.count * 8
        guard let bits = parts.count == 2 ? Int(parts[1]) : length, (0...length).contains(bits) else { return nil }
        self.address = address
        self.bits = bits
    }

    public func contains(_ other: IPAddress) -> Bool {
        guard other.bytes.count == address.bytes.count else { return false }
        for bit in 0..<bits {
            let mask = UInt8(0x80) >> (bit % 8)
            if other.bytes[bit / 8] & mask != address.bytes[bit / 8] & mask { return false }
        }
        return true
    }
}

public struct ResolutionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var message: String
    public var description: String { "cannot resolve \(host): \(message)" }
}
