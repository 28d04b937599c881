/// Checks tool arguments against the JSON Schema a tool declares.
///
/// The subset tools use: `type` (one or a list), `properties`, `required`,
/// `additionalProperties: false`, `enum`, `minimum`/`maximum`, `minLength`/`maxLength`,
/// `items`, `minItems`/`maxItems`. A violation names the argument and what was
/// expected, so the model can correct its call.
public enum ArgumentSchema {
    public static func validate(_ value: JSONValue, against schema: JSONValue, tool: String) throws(ToolError) {
        if let problem = firstProblem(value, schema, path: "arguments") {
            throw ToolError(.invalidArguments, tool: tool, problem)
        }
    }

    /// The first violation, as `PATH: expected …, got …`, or `nil`.
    public static func firstProblem(_ value: JSONValue, _ schema: JSONValue, path: String) -> String? {
        if let types = schema["type"] {
            let names = types.arrayValue?.compactMap(\.stringValue) ?? [types.stringValue].compactMap { $0 }
            if !names.isEmpty, !names.contains(where: { matches(value, type: $0) }) {
                return "\(path): expected \(names.map(article).joined(separator: " or ")), got \(describe(value))"
            }
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            let list = allowed.map(\.canonicalText).joined(separator: ", ")
            return "\(path): expected one of \(list), got \(value.canonicalText)"
        }
        switch value {
        case .number(let number):
            if let minimum = schema["minimum"]?.doubleValue, number < minimum {
                return
                    "\(path): must be at least \(JSONValue.number(minimum).canonicalText), got \(value.canonicalText)"
            }
            if let maximum = schema["maximum"]?.doubleValue, number > maximum {
                return "\(path): must be at most \(JSONValue.number(maximum).canonicalText), got \(value.canonicalText)"
            }
        case .string(let text):
            if let minimum = schema["minLength"]?.intValue, text.count < minimum {
                return "\(path): must have at least \(minimum) characters"
            }
            if let maximum = schema["maxLength"]?.intValue, text.count > maximum {
                return "\(path): must have at most \(maximum) characters, got \(text.count)"
            }
        case .array(let items):
            if let minimum = schema["minItems"]?.intValue, items.count < minimum {
                return "\(path): must have at least \(minimum) items"
            }
            if let maximum = schema["maxItems"]?.intValue, items.count > maximum {
                return "\(path): must have at most \(maximum) items, got \(items.count)"
            }
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() {
                    if let problem = firstProblem(item, itemSchema, path: "\(path)[\(index)]") { return problem }
                }
            }
        case .object(let object):
            let properties = schema["properties"]?.objectValue ?? [:]
            // A null counts as absent (models send it for arguments they leave out), unless
            // the property's schema admits null itself.
            for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
            where object[name] == nil || (object[name] == .null && !admitsNull(properties[name])) {
                return "\(path).\(name) is required"
            }
            for (name, item) in object.sorted(by: { $0.key < $1.key }) {
                if let propertySchema = properties[name] {
                    if item == .null { continue }
                    if let problem = firstProblem(item, propertySchema, path: "\(path).\(name)") { return problem }
                } else if schema["additionalProperties"] == .bool(false) {
                    let known = properties.keys.sorted().joined(separator: ", ")
                    return "\(path).\(name) is not an argument of this tool (it takes: \(known))"
                }
            }
        case .null, .bool:
            break
        }
        return nil
    }

    private static func admitsNull(_ schema: JSONValue?) -> Bool {
        guard let schema else { return false }
        if schema["enum"]?.arrayValue?.contains(.null) == true { return true }
        if schema["type"] == "null" || schema["type"]?.arrayValue?.contains("null") == true { return true }
        return false
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("number", .number), ("array", .array),
            ("object", .object), ("null", .null):
            true
        case ("integer", .number): value.intValue != nil
        default: false
        }
    }

    private static func article(_ type: String) -> String {
        switch type {
        case "integer", "array", "object": "an \(type)"
        case "null": "null"
        default: "a \(type)"
        }
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "a boolean (\(flag))"
        case .number: "a number (\(value.canonicalText))"
        case .string(let text): "a string (\(JSONValue.string(String(text.prefix(40))).canonicalText))"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
