// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.37;

/// @title IPAuthorizationChain
/// @notice The seed's authorization chain (technical design §5.1) plus the anchors of the
/// transparency log's checkpoints. Only the platform, the address that deployed the contract,
/// writes: users hold no keys, the platform records what its log already says.
contract IPAuthorizationChain {
    struct Authorization {
        bytes32 ipHash;
        address licensor;
        address licensee;
        uint256 timestamp;
        bool isActive;
        bytes32 parentAuth;
    }

    address public immutable platform;

    mapping(bytes32 => Authorization) public authorizations;
    /// @notice authId => the authorizations made under it (its derivations), in order.
    mapping(bytes32 => bytes32[]) public authorizationChain;
    /// @notice treeSize => root hash of the transparency log at that size.
    mapping(uint64 => bytes32) public checkpointRoots;

    /// @notice Counter of the seed's createAuthorization, which derives its ids from it.
    uint256 public nonce;

    event AuthorizationCreated(bytes32 indexed authId, address licensor, address licensee);
    event AuthorizationRevoked(bytes32 indexed authId, address revokedBy);
    event CheckpointAnchored(uint64 indexed treeSize, bytes32 rootHash);

    error NotPlatform(address caller);
    error AuthorizationExists(bytes32 authId);
    error UnknownAuthorization(bytes32 authId);
    error UnknownParent(bytes32 parentAuth);
    error CheckpointConflict(uint64 treeSize, bytes32 anchored);

    modifier onlyPlatform() {
        if (msg.sender != platform) revert NotPlatform(msg.sender);
        _;
    }

    constructor() {
        platform = msg.sender;
    }

    /// @notice The seed's call: the id is derived from the arguments and a counter, so two
    /// identical calls make two authorizations. The platform uses createAuthorizationWithId.
    function createAuthorization(bytes32 _ipHash, address _licensee, bytes32 _parentAuth)
        external
        onlyPlatform
        returns (bytes32)
    {
        bytes32 authId = keccak256(abi.encode(_ipHash, _licensee, _parentAuth, nonce));
        nonce += 1;
        _create(authId, _ipHash, msg.sender, _licensee, _parentAuth);
        return authId;
    }

    /// @notice Like createAuthorization, with the id chosen by the platform (derived from its
    /// own record's id) and the licensor named. A retried or duplicated transaction then
    /// reverts with AuthorizationExists instead of writing the record twice, and the platform
    /// knows every id before anything is mined, so a child can name a parent still pending.
    function createAuthorizationWithId(
        bytes32 _authId,
        bytes32 _ipHash,
        address _licensor,
        address _licensee,
        bytes32 _parentAuth
    ) external onlyPlatform returns (bytes32) {
        _create(_authId, _ipHash, _licensor, _licensee, _parentAuth);
        return _authId;
    }

    /// @notice Ends an authorization; what was made under it fails verification from then on.
    /// Revoking twice changes nothing (and emits nothing), so a retry is harmless.
    function revokeAuthorization(bytes32 _authId) external onlyPlatform {
        Authorization storage auth = authorizations[_authId];
        if (auth.timestamp == 0) revert UnknownAuthorization(_authId);
        if (!auth.isActive) return;
        auth.isActive = false;
        emit AuthorizationRevoked(_authId, msg.sender);
    }

    /// @notice True when the authorization and every parent up to its root exist and are active.
    function verifyAuthorizationChain(bytes32 _authId) external view returns (bool) {
        bytes32 current = _authId;
        while (current != bytes32(0)) {
            Authorization storage auth = authorizations[current];
            if (auth.timestamp == 0 || !auth.isActive) return false;
            current = auth.parentAuth;
        }
        return _authId != bytes32(0);
    }

    /// @notice The ids from the authorization up to its root, the authorization first.
    function getAuthorizationPath(bytes32 _authId) external view returns (bytes32[] memory) {
        uint256 depth = 0;
        for (bytes32 c = _authId; c != bytes32(0); c = authorizations[c].parentAuth) {
            if (authorizations[c].timestamp == 0) break;
            depth += 1;
        }
        bytes32[] memory path = new bytes32[](depth);
        bytes32 current = _authId;
        for (uint256 i = 0; i < depth; i++) {
            path[i] = current;
            current = authorizations[current].parentAuth;
        }
        return path;
    }

    /// @notice Anchors the log's root at `treeSize`. Anchoring the same root again is a no-op
    /// (a retry); another root for an anchored size reverts: the log would have forked.
    function anchorCheckpoint(uint64 treeSize, bytes32 rootHash) external onlyPlatform {
        bytes32 anchored = checkpointRoots[treeSize];
        if (anchored == rootHash) return;
        if (anchored != bytes32(0)) revert CheckpointConflict(treeSize, anchored);
        checkpointRoots[treeSize] = rootHash;
        emit CheckpointAnchored(treeSize, rootHash);
    }

    function _create(
        bytes32 authId,
        bytes32 ipHash,
        address licensor,
        address licensee,
        bytes32 parentAuth
    ) private {
        if (authorizations[authId].timestamp != 0) revert AuthorizationExists(authId);
        if (parentAuth != bytes32(0) && authorizations[parentAuth].timestamp == 0) {
            revert UnknownParent(parentAuth);
        }
        authorizations[authId] = Authorization({
            ipHash: ipHash,
            licensor: licensor,
            licensee: licensee,
            timestamp: block.timestamp,
            isActive: true,
            parentAuth: parentAuth
        });
        if (parentAuth != bytes32(0)) authorizationChain[parentAuth].push(authId);
        emit AuthorizationCreated(authId, licensor, licensee);
    }
}
