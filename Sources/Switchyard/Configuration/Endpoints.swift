import Foundation

/// Where the model servers are, read the way their own tools read the environment.
public enum Endpoints {
    public static let defaultOllama = "http://127.0.0.1:11434"
    public static let defaultOpenAI = "https://api.openai.com/v1"

    /// Ollama's base URL from `OLLAMA_HOST`, which may be `host`, `host:port`, or a URL
    /// with a scheme and path; the scheme defaults to http and the port to 11434 (443
    /// for https), as the `ollama` command does.
    public static func ollama(_ environment: [String: String]) -> String {
        guard var value = environment["OLLAMA_HOST"]?.trimming(" \t\"'"), !value.isEmpty else {
            return defaultOllama
        }
        var scheme = "http"
        if let range = value.range(of: "://") {
            scheme = value[..<range.lowerBound].lowercased()
            value = String(value[range.upperBound...])
        }
        var path = ""
        if let slash = value.firstIndex(of: "/") {
            path = String(value[slash...])
            value = String(value[..<slash])
        }
        while path.hasSuffix("/") { path.removeLast() }
        var host = value
        var port = scheme == "https" ? "443" : "11434"
        if let colon = value.lastIndex(of: ":"), !value.hasSuffix("]") {
            host = String(value[..<colon])
            port = String(value[value.index(after: colon)...])
        }
        if host.isEmpty { host = "127.0.0.1" }
        return "\(scheme)://\(host):\(port)\(path)"
    }

    /// The OpenAI API's base URL from `OPENAI_BASE_URL`, without a trailing slash.
    public static func openAI(_ environment: [String: String]) -> String {
        guard var value = environment["OPENAI_BASE_URL"]?.trimming(" \t\"'"), !value.isEmpty else {
            return defaultOpenAI
        }
        while value.hasSuffix("/") { value.removeLast() }
        return value
    }
}

extension String {
    /// The string without the given characters at either end.
    package func trimming(_ set: String) -> String {
        var view = Substring(self)
        while let first = view.first, set.contains(first) { view = view.dropFirst() }
        while let last = view.last, set.contains(last) { view = view.dropLast() }
        return String(view)
    }
}
