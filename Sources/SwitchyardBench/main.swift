import Curl
import Foundation
import SwitchyardTesting

func rss() -> Int {
    let text = try! String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
    return Int(text.split(separator: " ")[1])! * 4096 / 1048576
}
let total = 200 << 20
let server = try LoopbackHTTPServer { _, response in
    let block = [UInt8](repeating: 7, count: 1 << 20)
    response.writeHead(status: 200, contentLength: total)
    for _ in 0..<(total >> 20) where !response.isBroken { response.write(block) }
}
print("start", rss())
let client = HTTPClient()
let n = try await client.stream(HTTPRequest(url: server.baseURL)) { response in
    var count = 0
    var chunks = 0
    for try await chunk in response.body {
        count += chunk.count
        chunks += 1
        if chunks % 8 == 0 { try await Task.sleep(for: .milliseconds(1)) }
        if chunks % 1000 == 0 { print(chunks, count >> 20, rss()) }
    }
    return count
}
print("end", n, rss())
