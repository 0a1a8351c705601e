import Dispatch
import Foundation
import SluiceManagement

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `sluice top` on a terminal: the alternate screen, redrawn on each refresh and resize, until q, Ctrl-C or a
/// termination signal; the terminal is given back as it was.
struct TerminalTop {
    let client: ManagementClient
    let screen: TopScreen

    enum Event: Sendable {
        case refreshed(TopScreen.State)
        case resized
        case quit
    }

    func run() async throws {
        let (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(16))
        let saved = Self.enterRawMode()
        Self.write("\u{1B}[?1049h\u{1B}[?25l")
        defer {
            Self.write("\u{1B}[?25h\u{1B}[?1049l")
            if var saved { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
        }
        let signals = Self.watchSignals(continuation)
        defer { signals.forEach { $0.cancel() } }
        Self.readKeys(continuation)
        let refreshing = Task { [client, interval = screen.interval] in
            var reader = StatusReader(client: client)
            while !Task.isCancelled {
                continuation.yield(.refreshed(await reader.refresh()))
                try? await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
            }
        }
        defer { refreshing.cancel() }
        var state = TopScreen.State.waiting
        draw(state)
        for await event in events {
            switch event {
            case .quit: return
            case .resized: draw(state)
            case .refreshed(let refreshed):
                state = refreshed
                draw(state)
            }
        }
    }

    func draw(_ state: TopScreen.State) {
        let size = Self.size() ?? (columns: 80, rows: 24)
        let lines = screen.lines(state, width: size.columns, height: size.rows, nowMs: TopCommand.nowMs())
        var text = "\u{1B}[H"
        for (index, line) in lines.enumerated() {
            // The title in reverse video, an unreachable or refused status in bold.
            if index == 0 {
                text +=
                    "\u{1B}[7m" + line + String(repeating: " ", count: max(size.columns - line.count, 0)) + "\u{1B}[0m"
            } else if index == 1, line.hasPrefix("UNREACHABLE") || line.hasPrefix("REFUSED") {
                text += "\u{1B}[1m" + line + "\u{1B}[0m"
            } else {
                text += line
            }
            text += "\u{1B}[K"
            if index < lines.count - 1 { text += "\r\n" }
        }
        Self.write(text + "\u{1B}[J")
    }

    /// The terminal's size, when standard output is one.
    static func size() -> (columns: Int, rows: Int)? {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 else {
            return nil
        }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Keys one at a time, without echo; Ctrl-C arrives as a key (so that the terminal is restored before exit).
    static func enterRawMode() -> termios? {
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return nil }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        return original
    }

    /// A thread of its own reads standard input: its reads block, which no task of the cooperative pool may do.
    static func readKeys(_ continuation: AsyncStream<Event>.Continuation) {
        let thread = Thread {
            var byte: UInt8 = 0
            while read(STDIN_FILENO, &byte, 1) == 1 {
                // q, Q, Ctrl-C, Ctrl-D
                if byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") || byte == 3 || byte == 4 {
                    continuation.yield(.quit)
                    return
                }
            }
            continuation.yield(.quit)
        }
        thread.start()
    }

    /// SIGWINCH redraws; SIGTERM, SIGINT and SIGHUP quit (restoring the terminal).
    static func watchSignals(_ continuation: AsyncStream<Event>.Continuation) -> [any DispatchSourceSignal] {
        [(SIGWINCH, Event.resized), (SIGTERM, .quit), (SIGINT, .quit), (SIGHUP, .quit)].map { number, event in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(event) }
            source.resume()
            return source
        }
    }
}
