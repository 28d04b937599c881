internal import CCurl
import Foundation
import Synchronization

/// One thread that owns a libcurl multi handle and drives every transfer on it.
///
/// Other threads talk to it only through `submit`, which queues a command and wakes
/// the thread from `curl_multi_poll` with `curl_multi_wakeup`.
final class MultiLoop: @unchecked Sendable {  // `multi` and `active` are touched only on the loop thread
    enum Command {
        case add(Transfer)
        case cancel(Transfer)
        case resume(Transfer)
        case shutdown
    }

    private let multi: UnsafeMutableRawPointer
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private var unflushed: [Transfer] = []
    private struct Inbox {
        var commands: [Command] = []
        var closed = false
    }
    private let inbox = Mutex(Inbox())

    init(name: String) {
        _ = curlGlobalInitialized
        guard let multi = curl_multi_init() else { fatalError("libcurl could not create a multi handle") }
        self.multi = multi
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Queues a command for the loop thread. After shutdown, additions fail at once.
    func submit(_ command: Command) {
        let accepted = inbox.withLock { inbox in
            guard !inbox.closed else { return false }
            inbox.commands.append(command)
            // Under the lock: the loop closes the inbox before it cleans up `multi`.
            curl_multi_wakeup(multi)
            return true
        }
        if !accepted, case .add(let transfer) = command {
            transfer.complete(CURLE_ABORTED_BY_CALLBACK, cancelled: true)
        }
    }

    /// Loop thread only: `transfer` received data that a waiting consumer should get.
    func flushAfterPerform(_ transfer: Transfer) {
        unflushed.append(transfer)
    }

    private func flushReceivedData() {
        guard !unflushed.isEmpty else { return }
        for transfer in unflushed { transfer.flush() }
        unflushed.removeAll(keepingCapacity: true)
    }

    private func run() {
        var running: Int32 = 0
        var pending: [Command] = []
        var lastIdleCheck = ContinuousClock.now
        loop: while true {
            pending.removeAll(keepingCapacity: true)
            inbox.withLock { swap(&$0.commands, &pending) }
            for command in pending {
                switch command {
                case .add(let transfer):
                    let code = curl_multi_add_handle(multi, transfer.easy)
                    if code == CURLM_OK {
                        active[transfer.easy] = transfer
                    } else {
                        transfer.complete(CURLE_FAILED_INIT)
                    }
                case .cancel(let transfer):
                    if active.removeValue(forKey: transfer.easy) != nil {
                        curl_multi_remove_handle(multi, transfer.easy)
                        transfer.complete(CURLE_ABORTED_BY_CALLBACK, cancelled: true)
                    }
                case .resume(let transfer):
                    // Unpausing delivers the data libcurl held back, right here.
                    if active[transfer.easy] != nil { transfer.resumeReceiving() }
                    flushReceivedData()
                case .shutdown:
                    break loop
                }
            }
            curl_multi_perform(multi, &running)
            flushReceivedData()
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                active.removeValue(forKey: easy)?.complete(code)
            }
            let now = ContinuousClock.now
            if now - lastIdleCheck >= .milliseconds(50) {
                lastIdleCheck = now
                for (easy, transfer) in active where transfer.isIdle(at: now) {
                    curl_multi_remove_handle(multi, easy)
                    active.removeValue(forKey: easy)
                    transfer.complete(CURLE_OPERATION_TIMEDOUT, idle: true)
                }
            }
            if inbox.withLock({ $0.commands.isEmpty }) {
                // Wake often enough to enforce idle timeouts while transfers run.
                curl_multi_poll(multi, nil, 0, active.isEmpty ? 1000 : 100, nil)
            }
        }
        let remaining = inbox.withLock { inbox in
            inbox.closed = true
            return inbox.commands
        }
        for case .add(let transfer) in remaining {
            transfer.complete(CURLE_ABORTED_BY_CALLBACK, cancelled: true)
        }
        for (easy, transfer) in active {
            curl_multi_remove_handle(multi, easy)
            transfer.complete(CURLE_ABORTED_BY_CALLBACK, cancelled: true)
        }
        active.removeAll()
        curl_multi_cleanup(multi)
    }
}
