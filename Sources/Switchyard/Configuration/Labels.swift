/// How secret an artifact is; a provider's clearance is the highest level it may see.
public enum Confidentiality: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case `public` = 0
    case `internal` = 1
    case `private` = 2
    case secret = 3

    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = level
    }

    public var description: String {
        switch self {
        case .public: "public"
        case .internal: "internal"
        case .private: "private"
        case .secret: "secret"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Whether content can be believed: what the user or their own repository says is
/// `trusted`; what came from outside (a web page, a ticket's reporter) is `untrusted`.
public enum Integrity: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case trusted = 0
    case untrusted = 1

    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = level
    }

    public var description: String { self == .trusted ? "trusted" : "untrusted" }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The labels an artifact carries. Derived content gets the ``join(_:)`` of its inputs:
/// the more secret confidentiality and the less trustworthy integrity.
public struct Labels: Sendable, Hashable, CustomStringConvertible {
    public var confidentiality: Confidentiality
    public var integrity: Integrity

    public init(_ confidentiality: Confidentiality, _ integrity: Integrity) {
        self.confidentiality = confidentiality
        self.integrity = integrity
    }

    /// What the user typed: public and trusted, the bottom of the lattice.
    public static let userInput = Labels(.public, .trusted)

    public func join(_ other: Labels) -> Labels {
        Labels(max(confidentiality, other.confidentiality), max(integrity, other.integrity))
    }

    public var description: String { "\(confidentiality)/\(integrity)" }

    public var json: JSONValue {
        .object(["confidentiality": .string(confidentiality.description), "integrity": .string(integrity.description)])
    }

    /// Labels read back from their `json` form; what cannot be read is taken at its most
    /// restrictive (secret, untrusted), never its least.
    public init(recorded json: JSONValue?) {
        self.init(
            json?["confidentiality"]?.stringValue.flatMap(Confidentiality.init(name:)) ?? .secret,
            json?["integrity"]?.stringValue.flatMap(Integrity.init(name:)) ?? .untrusted)
    }
}
