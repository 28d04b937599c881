import Foundation

/// Any JSON value: tool arguments, JSON Schemas, provider options.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// Compact JSON with sorted keys: the same value always gives the same bytes.
    public var canonicalText: String { String(decoding: canonicalBytes, as: UTF8.self) }

    /// `canonicalText` as UTF-8.
    public var canonicalBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(to: &output, schemaOrder: false)
        return output
    }

    /// Compact JSON for a request body: keys sorted, except that the properties of a JSON
    /// Schema (an object with `properties` and `required`) come in the order `required`
    /// lists them, then the rest sorted. Grammar-constrained decoders (llama.cpp, Ollama's
    /// `format`) make the model write properties in the order the schema has them, so a
    /// schema decides what is written first — a step's kind before its arguments — by
    /// listing it first in `required`. Order never changes what the JSON means.
    public var requestBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(1024)
        write(to: &output, schemaOrder: true)
        return output
    }

    /// `JSONValue.object(members).requestBytes` when `members[key]` is the array of every
    /// item in `runs`, written from the bytes each run was written to once (its items'
    /// `requestBytes`, comma-separated): an array a body resends every turn costs a copy,
    /// not a rewrite. The caller passes the same items as values and as bytes.
    static func requestBytes(_ members: [String: JSONValue], splicing key: String, runs: [[UInt8]]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(runs.reduce(1024) { $0 + $1.count + 1 })
        write(members.sorted { $0.key < $1.key }, to: &output, schemaOrder: true, splicing: (key, runs))
        return output
    }

    private func write(to output: inout [UInt8], schemaOrder: Bool) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let value): output.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let value):
            if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
                output.append(contentsOf: String(Int64(value)).utf8)
            } else if value.isFinite {
                output.append(contentsOf: "\(value)".utf8)
            } else {
                output.append(contentsOf: "null".utf8)
            }
        case .string(let value): Self.writeString(value, to: &output)
        case .array(let values):
            output.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                value.write(to: &output, schemaOrder: schemaOrder)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            // Sorted as pairs: no lookup (and no hashing) per key.
            Self.write(object.sorted { $0.key < $1.key }, to: &output, schemaOrder: schemaOrder)
        }
    }

    private static func write(
        _ members: [(key: String, value: JSONValue)], to output: inout [UInt8], schemaOrder: Bool,
        splicing spliced: (key: String, runs: [[UInt8]])? = nil
    ) {
        // In a schema, `properties` is written in the order of `required`.
        let required =
            schemaOrder ? members.first { $0.key == "required" }?.value.arrayValue?.compactMap(\.stringValue) : nil
        output.append(UInt8(ascii: "{"))
        for (index, member) in members.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            writeString(member.key, to: &output)
            output.append(UInt8(ascii: ":"))
            if let spliced, member.key == spliced.key {
                output.append(UInt8(ascii: "["))
                var first = true
                for run in spliced.runs where !run.isEmpty {
                    if !first { output.append(UInt8(ascii: ",")) }
                    output.append(contentsOf: run)
                    first = false
                }
                output.append(UInt8(ascii: "]"))
            } else if member.key == "properties", let required, case .object(let properties) = member.value {
                var listed: Set<String> = []
                let first = required.compactMap { name in
                    listed.insert(name).inserted ? properties[name].map { (key: name, value: $0) } : nil
                }
                let rest = properties.filter { !required.contains($0.key) }.sorted { $0.key < $1.key }
                write(first + rest, to: &output, schemaOrder: true)
            } else {
                member.value.write(to: &output, schemaOrder: schemaOrder)
            }
        }
        output.append(UInt8(ascii: "}"))
    }

    /// A JSON string: bytes that need no escaping are copied in runs.
    private static func writeString(_ value: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte == 0x22 || byte == 0x5C || byte < 0x20 else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                runStart = index + 1
                switch byte {
                case 0x22: output.append(contentsOf: [0x5C, 0x22])
                case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    let digits = Array("0123456789abcdef".utf8)
                    output.append(contentsOf: [
                        0x5C, UInt8(ascii: "u"), 0x30, 0x30, digits[Int(byte >> 4)], digits[Int(byte & 0xF)],
                    ])
                }
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        output.append(UInt8(ascii: "\""))
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
    public init(nilLiteral: ()) { self = .null }
}

// Between typed values and JSON: a type's `Codable` form, read from or written to a value.
extension JSONValue {
    /// `value` as JSON. Plain data (strings, numbers, arrays, keyed records) always encodes.
    public init(encoding value: some Encodable) throws {
        self = try JSONValue(parsing: String(decoding: JSONEncoder().encode(value), as: UTF8.self))
    }

    /// This value read as a `T`.
    public func decoded<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(type, from: Data(canonicalBytes))
    }
}
