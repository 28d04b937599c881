import Curl
import Foundation
import SwitchyardTesting
import Testing

/// A retry policy that records the delays it is asked to wait instead of sleeping.
func recordingPolicy(_ delays: Shared<[Duration]>, maxRetries: Int = 2) -> RetryPolicy {
    RetryPolicy(maxRetries: maxRetries, jitter: { 0 }, sleep: { delay in delays.update { $0.append(delay) } })
}

@Suite struct RetryTests {
    let client = HTTPClient()

    @Test func retryHonoursRetryAfter() async throws {
        let attempts = Shared(0)
        let server = try LoopbackHTTPServer { _, response in
            if attempts.update({ value in
                value += 1
                return value
            }) == 1 {
                response.respond(status: 429, headers: [("Retry-After", "1")], text: "slow down")
            } else {
                response.respond(status: 200, text: "ok")
            }
        }
        let delays = Shared<[Duration]>([])
        let response = try await client.send(HTTPRequest(url: server.baseURL), retry: recordingPolicy(delays))
        #expect(response.status == 200)
        #expect(server.requestCount == 2)
        #expect(delays.value == [.seconds(1)])
    }

    @Test func retryGivesUpWhenTheServerAsksForTooLong() async throws {
        let server = try LoopbackHTTPServer { _, response in
            response.respond(status: 429, headers: [("Retry-After", "300")], text: "come back later")
        }
        let delays = Shared<[Duration]>([])
        let response = try await client.send(HTTPRequest(url: server.baseURL), retry: recordingPolicy(delays))
        #expect(response.status == 429)
        #expect(response.text == "come back later")
        #expect(server.requestCount == 1)
        #expect(delays.value.isEmpty)
    }

    @Test(arguments: [400, 401, 403, 404, 422])
    func clientErrorsAreNeverRetried(status: Int) async throws {
        let server = try LoopbackHTTPServer { _, response in response.respond(status: status, text: "no") }
        let delays = Shared<[Duration]>([])
        let response = try await client.send(HTTPRequest(url: server.baseURL), retry: recordingPolicy(delays))
        #expect(response.status == status)
        #expect(server.requestCount == 1)
        #expect(delays.value.isEmpty)
    }

    @Test func serverErrorThenSuccessIsRetriedWithBackoff() async throws {
        let attempts = Shared(0)
        let server = try LoopbackHTTPServer { _, response in
            let attempt = attempts.update { value in
                value += 1
                return value
            }
            if attempt < 3 {
                response.respond(status: attempt == 1 ? 500 : 503, text: "busy")
            } else {
                response.respond(status: 200, text: "fine")
            }
        }
        let delays = Shared<[Duration]>([])
        let response = try await client.send(HTTPRequest(url: server.baseURL), retry: recordingPolicy(delays))
        #expect(response.text == "fine")
        #expect(delays.value == [.milliseconds(500), .seconds(1)])
    }

    @Test func streamRetriesBeforeTheConsumerSeesBytesOnly() async throws {
        let attempts = Shared(0)
        let server = try LoopbackHTTPServer { _, response in
            let attempt = attempts.update { value in
                value += 1
                return value
            }
            if attempt == 1 {
                response.respond(status: 503, headers: [("retry-after-ms", "20")], text: "busy")
            } else {
                response.writeHead(status: 200, contentLength: 100)
                response.write(Array(repeating: 1, count: 10))
                response.abort()
            }
        }
        let delays = Shared<[Duration]>([])
        let seen = Shared(0)
        let error = await #expect(throws: HTTPError.self) {
            try await client.stream(HTTPRequest(url: server.baseURL), retry: recordingPolicy(delays)) { response in
                for try await chunk in response.body { seen.update { $0 += chunk.count } }
            }
        }
        #expect(error?.code == .connectionLost)
        #expect(attempts.value == 2)
        #expect(delays.value == [.milliseconds(20)])
        #expect(seen.value == 10)
    }

    @Test func connectionFailuresAreRetriedThenSurfaced() async throws {
        let server = try LoopbackHTTPServer { _, response in response.respond(status: 200) }
        let url = server.baseURL
        server.stop()
        let delays = Shared<[Duration]>([])
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(HTTPRequest(url: url), retry: recordingPolicy(delays, maxRetries: 3))
        }
        #expect(error?.code == .couldNotConnect)
        #expect(delays.value == [.milliseconds(500), .seconds(1), .seconds(2)])
    }
}

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(jitter: { 1 }, now: { Date(timeIntervalSince1970: 1_700_000_000) })

    @Test func backoffDoublesWithJitterAndIsCapped() {
        let noJitter = RetryPolicy(maxRetries: 10, jitter: { 0 })
        let delays = (0..<6).map { noJitter.decision(status: 500, headers: [:], retriesTaken: $0) }
        #expect(
            delays == [
                .retry(after: .milliseconds(500)), .retry(after: .seconds(1)), .retry(after: .seconds(2)),
                .retry(after: .seconds(4)), .retry(after: .seconds(8)), .retry(after: .seconds(8)),
            ])
        // Full jitter takes a quarter off.
        #expect(policy.decision(status: 500, headers: [:], retriesTaken: 0) == .retry(after: .milliseconds(375)))
    }

    @Test func retryAfterForms() {
        #expect(policy.retryAfter(["Retry-After": "2"]) == .seconds(2))
        #expect(policy.retryAfter(["Retry-After": "0.25"]) == .milliseconds(250))
        #expect(policy.retryAfter(["retry-after-ms": "150", "Retry-After": "9"]) == .milliseconds(150))
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        #expect(policy.retryAfter(["Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"]) == .seconds(10))
        #expect(policy.retryAfter(["Retry-After": "soon"]) == nil)
        // A server's absurd numbers are a long delay (not waited for), never a trap.
        #expect(policy.retryAfter(["Retry-After": "1e30"]) == .seconds(365 * 86_400))
        #expect(policy.retryAfter(["retry-after-ms": "-5"]) == .zero)
        guard case .stop(let reason) = policy.decision(status: 429, headers: ["Retry-After": "1e30"], retriesTaken: 0)
        else {
            Issue.record("a year's wait was waited for")
            return
        }
        #expect(reason.contains("asks to wait"))
    }

    @Test func decisionTable() {
        for status in [408, 409, 429, 500, 502, 503, 504] {
            if case .stop = policy.decision(status: status, headers: [:], retriesTaken: 0) {
                Issue.record("\(status) should be retried")
            }
        }
        for status in [400, 401, 403, 404, 422] {
            guard case .stop = policy.decision(status: status, headers: [:], retriesTaken: 0) else {
                Issue.record("\(status) must not be retried")
                continue
            }
        }
        guard case .stop = policy.decision(status: 500, headers: ["x-should-retry": "false"], retriesTaken: 0) else {
            Issue.record("x-should-retry: false must win")
            return
        }
        guard case .retry = policy.decision(status: 400, headers: ["x-should-retry": "true"], retriesTaken: 0) else {
            Issue.record("x-should-retry: true must win")
            return
        }
        guard case .stop = policy.decision(status: 503, headers: ["retry-after": "121"], retriesTaken: 0) else {
            Issue.record("a delay over the cap must not be waited for")
            return
        }
        guard case .stop = policy.decision(status: 503, headers: [:], retriesTaken: 2) else {
            Issue.record("retries must stop at maxRetries")
            return
        }
        #expect(
            policy.decision(status: 429, headers: ["retry-after": "3"], retriesTaken: 0) == .retry(after: .seconds(3)))
    }

    @Test func transportErrors() {
        let refused = HTTPError(code: .couldNotConnect, message: "refused", url: "http://x")
        let cancelled = HTTPError(code: .cancelled, message: "cancelled", url: "http://x")
        let invalid = HTTPError(code: .invalidURL, message: "bad", url: "x")
        #expect(policy.decision(error: refused, retriesTaken: 0) == .retry(after: .milliseconds(375)))
        guard case .stop = policy.decision(error: cancelled, retriesTaken: 0),
            case .stop = policy.decision(error: invalid, retriesTaken: 0)
        else {
            Issue.record("cancelled and invalid requests must not be retried")
            return
        }
    }
}
