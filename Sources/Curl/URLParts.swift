internal import CCurl

/// A URL taken apart by libcurl's own parser, so what is checked is what libcurl will use.
public struct URLParts: Sendable, Hashable {
    /// Lower case, such as `https`.
    public var scheme: String
    /// The host as libcurl will connect to it (IPv6 addresses without brackets).
    public var host: String
    /// The port, the scheme's default when the URL gives none.
    public var port: Int
    /// The whole URL, normalised.
    public var url: String

    /// Parses an absolute URL, or one relative to `base` (as a redirect's `Location`).
    public init(_ text: String, relativeTo base: String? = nil) throws(HTTPError) {
        _ = curlGlobalInitialized
        guard let handle = curl_url() else { throw HTTPError(code: .invalidURL, message: "out of memory", url: text) }
        defer { curl_url_cleanup(handle) }
        func fail(_ code: CURLUcode) -> HTTPError {
            HTTPError(code: .invalidURL, message: String(cString: curl_url_strerror(code)), url: text)
        }
        if let base {
            let code = curl_url_set(handle, CURLUPART_URL, base, 0)
            guard code == CURLUE_OK else { throw fail(code) }
        }
        let code = curl_url_set(handle, CURLUPART_URL, text, UInt32(CURLU_NON_SUPPORT_SCHEME))
        guard code == CURLUE_OK else { throw fail(code) }
        func part(_ which: CURLUPart, _ flags: Int32 = 0) throws(HTTPError) -> String {
            var value: UnsafeMutablePointer<CChar>?
            let code = curl_url_get(handle, which, &value, UInt32(flags))
            guard code == CURLUE_OK, let value else { throw fail(code) }
            defer { curl_free(value) }
            return String(cString: value)
        }
        scheme = try part(CURLUPART_SCHEME).lowercased()
        var host = try part(CURLUPART_HOST)
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        port = Int(try part(CURLUPART_PORT, CURLU_DEFAULT_PORT)) ?? 0
        url = try part(CURLUPART_URL)
    }
}
