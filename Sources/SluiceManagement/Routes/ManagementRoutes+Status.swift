import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

extension ManagementRoutes {
    /// The most APIs a status snapshot lists.
    static let statusAPILimit = 1000

    func registerStatus(on router: Router<ManagementRequestContext>) {
        router.get("/management/v2/status") { _, _ in Self.json(try await statusSnapshot().json) }
        router.get("/status") { _, _ in StatusPage.response() }
    }

    /// The store's APIs with the live numbers of the gateway in this process, when one runs.
    func statusSnapshot() async throws -> StatusSnapshot {
        let page = try await store.listAPIs(APIFilter(), page: PageRequest(page: 1, perPage: Self.statusAPILimit))
        let live = gateway?.liveStatus()
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        return StatusSnapshot.merging(
            store: page.items, live: live, timestampMs: now, truncated: page.totalCount > page.items.count)
    }
}
