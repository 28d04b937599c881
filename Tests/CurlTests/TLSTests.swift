import Curl
import Foundation
import Subprocess
import SwitchyardTesting
import Testing

@Suite struct TLSTests {
    /// A real TLS server (`openssl s_server`) with a self-signed certificate: the client
    /// must refuse it, because verification is on.
    @Test func selfSignedCertificateIsRefused() async throws {
        let directory = NSTemporaryDirectory() + "switchyard-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        let made = try await runProgram(
            "/usr/bin/env",
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem",
            ], environment: environment)
        try #require(made.status == 0, "openssl req: \(made.standardError)")

        let placeholder = try LoopbackHTTPServer { _, response in response.respond(status: 200) }
        let port = placeholder.port
        placeholder.stop()
        let url = "https://127.0.0.1:\(port)/"
        let server = Configuration(
            executable: .name("openssl"),
            arguments: [
                "s_server", "-quiet", "-www", "-accept", "127.0.0.1:\(port)", "-cert", directory + "/cert.pem", "-key",
                directory + "/key.pem",
            ])
        let result = try await Subprocess.run(server, input: .none, output: .discarded, error: .discarded) {
            execution -> HTTPError? in
            defer { try? execution.send(signal: .kill) }
            let client = HTTPClient()
            for _ in 0..<100 {
                do {
                    _ = try await client.send(HTTPRequest(url: url))
                    return nil
                } catch let error as HTTPError where error.code == .couldNotConnect {
                    try await Task.sleep(for: .milliseconds(50))  // s_server is still starting
                } catch let error as HTTPError {
                    return error
                }
            }
            return nil
        }
        let outcome = result.closureResult
        #expect(outcome?.code == .tls, "\(String(describing: outcome))")
    }
}
