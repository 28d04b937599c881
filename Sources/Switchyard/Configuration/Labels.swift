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
