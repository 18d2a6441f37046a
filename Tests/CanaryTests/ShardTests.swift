// `--shard ordinal/COUNT` (issue 22): a StatefulSet's pod takes its part from its ordinal, and one
// that cannot tell it never probes everything.
import Testing

@testable import Config

@Suite struct ShardTests {
    @Test func theOrdinalComesFromThePodIndexOrTheHostName() {
        #expect(Shard.fromPod("ordinal/3", environment: ["POD_INDEX": "2", "HOSTNAME": "aoai-canary-0"]) == .success(Shard("3/3")!), "POD_INDEX first")
        #expect(Shard.fromPod("ordinal/3", environment: ["HOSTNAME": "aoai-canary-0"]) == .success(Shard("1/3")!))
        #expect(Shard.fromPod("ordinal/3", environment: ["HOSTNAME": "my-canary-set-1"]) == .success(Shard("2/3")!), "dashes in the set's name")
        #expect(Shard.fromPod("ordinal/1", environment: ["POD_INDEX": "0"]) == .success(Shard("1/1")!))
        #expect(Shard.fromPod("2/3", environment: [:]) == nil, "INDEX/COUNT is not the pod's form")
    }

    @Test func aPodThatCannotTellItsOrdinalIsRefused() {
        #expect(Shard.fromPod("ordinal/3", environment: [:]) == .failure(.noOrdinal(hostname: nil)))
        #expect(Shard.fromPod("ordinal/3", environment: ["HOSTNAME": "laptop"]) == .failure(.noOrdinal(hostname: "laptop")))
        #expect(Shard.fromPod("ordinal/3", environment: ["HOSTNAME": "canary-+1"]) == .failure(.noOrdinal(hostname: "canary-+1")))
        #expect(Shard.fromPod("ordinal/3", environment: ["POD_INDEX": "x", "HOSTNAME": "laptop"]) == .failure(.noOrdinal(hostname: "laptop")))
        #expect(
            Shard.fromPod("ordinal/2", environment: ["HOSTNAME": "aoai-canary-2"])
                == .failure(.beyondCount(ordinal: 2, count: 2, from: "the host name aoai-canary-2")), "a replica past COUNT")
        #expect(Shard.fromPod("ordinal/0", environment: ["POD_INDEX": "0"]) == .failure(.badCount("0")))
        #expect(Shard.fromPod("ordinal/", environment: ["POD_INDEX": "0"]) == .failure(.badCount("")))
    }
}
