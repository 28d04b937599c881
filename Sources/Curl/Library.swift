internal import CCurl

/// libcurl's global state, initialised once for the process.
let curlGlobalInitialized: Bool = {
    curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    return true
}()

public enum CurlLibrary {
    /// libcurl's version line: `libcurl/7.88.1 OpenSSL/3.0.17 zlib/1.2.13 …`.
    public static var versionLine: String {
        _ = curlGlobalInitialized
        return String(cString: curl_version())
    }

    /// libcurl's own version, such as `7.88.1`.
    public static var version: String {
        let first = versionLine.split(separator: " ").first ?? ""
        return first.split(separator: "/").last.map(String.init) ?? String(first)
    }
}
