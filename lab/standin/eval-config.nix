# eval-config.nix: the lab's stand-in for NixOS's module system (tests only).
#
#   nix-instantiate --eval --strict --json --read-write-mode eval-config.nix \
#       --arg configuration /etc/nixos/configuration.nix
#
# prints the parts of the configuration the nixos-rebuild stand-in acts on, as JSON:
# { asterisk, firewall, nftables, services, users, groups, hostName, nixos, nixPath, ... }.
# The stand-in nixpkgs (nixpkgs/ beside this file; a copy of this file is at the root of the
# installed stand-in, and so of the channel lab.py makes from it) calls it in the two ways
# NixOS evaluates a system, with `withConfig = true`, and gets { config; pkgs; }: the merged
# configuration (lazily, each option's value), whose config.system.build.toplevel is the
# attribute set above:
#   - nixos/default.nix (`<nixpkgs/nixos>`, channel mode and nixos-rebuild's evaluation):
#     `configuration` is $NIXOS_CONFIG or <nixos-config>;
#   - flake.nix's lib.nixosSystem: `configuration = { imports = modules; }`, `specialArgs`,
#     and `trivial` (the flake's versionSuffix and revision).
# One module system for both, and for every query of config.* (nix-instantiate '<nixpkgs/
# nixos>' -A config..., nix eval '/etc/nixos#nixosConfigurations."pbx".config...'): what a
# query reads is what nixos-rebuild acts on. It reads no absolute path and uses no impure
# builtin, so it evaluates in pure mode (flakes): only the crew's own files decide what it
# can read. The files it reads beside itself are the stand-in nixpkgs' own: .version (the
# release), .version-suffix and .git-revision (a channel's, as nixpkgs' make-channel.nix
# writes them) and debian-versions.json (the versions of the lab's Debian packages that
# `pkgs` stands for, written by lab.py).
# --read-write-mode: a path interpolated into a string (`"${./provisiond.py}"`) is copied
# into the lab's Nix store (/nix/store/<hash>-provisiond.py, 0444, mtime 1) as on NixOS.
#
# Implemented (the part of the NixOS module system a hand-written config uses):
#  - modules are paths, functions `{ config, lib, pkgs, ... }: { ... }` or attrsets; `imports`
#    (recursive, deduplicated by path); explicit `options`/`config` or a bare config attrset;
#  - lib.mkIf / mkMerge / mkOverride / mkDefault / mkForce / mkOptionDefault / mkBefore /
#    mkAfter, pushed down through attrsets without evaluating conditions, so
#    `config = lib.mkIf config.services.x.enable { ... }` works as in NixOS; `config` is the
#    lazy fixpoint of the merge;
#  - DECLARED options, with nixpkgs' names, types, defaults, merge functions and error
#    messages ("The option `...' does not exist.", "A definition for option `...' is not of
#    type `...'", "conflicting definition values"), and an unknown attribute under a declared
#    option set refused:
#      services.asterisk.*            (nixos/modules/services/networking/asterisk.nix)
#      services.fail2ban.*            (nixos/modules/services/security/fail2ban.nix)
#      environment.etc.<name>.*       (nixos/modules/system/etc/etc.nix)
#      systemd.packages
#      networking.firewall.*          (firewall.nix, firewall-iptables.nix, firewall-nftables.nix)
#      networking.nftables.*          (nftables.nix), networking.enableIPv6
#      services.firewalld.*           (firewalld/*.nix, firewall-firewalld.nix: evaluated only)
#      boot.kernel.sysctl.<name>      (config/sysctl.nix: net.core.rmem_max and wmem_max take
#                                     the highest definition; the file sysctl.d/60-nixos.conf)
#      systemd.services.<name>.*      (lib/systemd-unit-options.nix, systemd.nix)
#      users.users.<name>.*, users.groups.<name>.*, users.mutableUsers (users-groups.nix);
#      users.extraUsers / users.extraGroups are aliases, as in NixOS
#      system.nixos.{release,codeName,versionSuffix,revision,version,label,tags},
#      system.configurationRevision (misc/version.nix, label.nix; release and codeName
#      read-only, from lib.trivial as below)
#      nix.enable, nix.channel.enable, nix.nixPath, nix.registry.<name>.* (config/nix.nix,
#      nix-channel.nix, nix-flakes.nix), nixpkgs.flake.{source,setNixPath,setFlakeRegistry}
#      (misc/nixpkgs-flake.nix)
#    and the assertions of those modules (e.g. extraCommands with nftables, users' groups);
#  - the config those modules contribute: services.asterisk's systemd.services.asterisk and
#    asterisk user/group, services.fail2ban's implementation (its environment.etc files,
#    systemd.services.fail2ban, users.groups.fail2ban, ...: nixpkgs' code, the lab's
#    deviations marked "Lab:"), the firewall's trustedInterfaces = [ "lo" ], the default users
#    (root, nobody) and groups (wheel, users, nogroup, ...), NIX_PATH in
#    environment.sessionVariables from nix.nixPath (nix-channel.nix; nixpkgs-flake.nix's
#    "nixpkgs=flake:nixpkgs" for a system from lib.nixosSystem), /etc/nix/registry.json
#    (nix-flakes.nix; the flake's nixpkgs pinned by nixpkgs-flake.nix);
#  - lib.trivial's release, codeName, versionSuffix, version (also lib.version, ...) as
#    nixpkgs' lib/trivial.nix gives them: .version, the code name of that release (25.05
#    "Warbler", 25.11 "Xantusia"), .version-suffix or "pre-git", .git-revision or null; a
#    flake's are overridden by the flake (lib/flake-version-info.nix: ".<date>.<short rev>",
#    the input's revision); nixpkgs' fallback to a .git directory beside it is not simulated;
#  - `assertions` / `warnings` as in NixOS.
# Not implemented: nixpkgs itself. `pkgs` is a stub whose packages are Debian's /usr in the
# chroot (pkgs.python3 -> "/usr", so "${pkgs.python3}/bin/python3" is /usr/bin/python3);
# the names it has are in `debianPackages` below, any other is "attribute ... missing".
# pkgs.writeText is builtins.toFile (a real store file); pkgs.formats.ini/keyValue and
# lib.generators.toINI/toKeyValue are nixpkgs'; pkgs.fail2ban is the lab's package
# directory. Not implemented either: types of user-declared options (declared defaults are
# honoured, types are not checked), freeformType (a declared set with `_freeform` has one), disabledModules, _module.args,
# submodules given as functions. specialArgs are module arguments, as in NixOS (they win
# over config, lib, pkgs, options and modulesPath). Every other top-level option (boot.*,
# services.openssh.*, environment.* but etc, boot.* but boot.kernel.sysctl, ...) is accepted and ignored: only the
# declared option sets above are checked, so an error hidden in an ignored option goes
# unnoticed here (nixos-rebuild's header says which declared options the lab simulates).
{ configuration ? /etc/nixos/configuration.nix, specialArgs ? { }, withConfig ? false, trivial ? { } }:
let
  b = builtins;

  # --- lib.trivial: the stand-in nixpkgs' version (nixpkgs' lib/trivial.nix) -------------
  readLine = file: b.head (b.match "([^\n]*)\n*" (b.readFile file));
  codeNames = { "25.05" = "Warbler"; "25.11" = "Xantusia"; };
  versionInfo = rec {
    release = if b.pathExists ./.version then readLine ./.version
      else b.throw "televoc lab: eval-config.nix has no .version beside it (not the stand-in nixpkgs')";
    codeName = codeNames.${release} or (b.throw "televoc lab: no code name for release ${release}");
    versionSuffix = if b.pathExists ./.version-suffix then readLine ./.version-suffix else "pre-git";
    revision = if b.pathExists ./.git-revision then readLine ./.git-revision else null;
  } // trivial;
  trivialAttrs = {
    inherit (versionInfo) release codeName versionSuffix;
    version = versionInfo.release + versionInfo.versionSuffix;
    revisionWithDefault = default: if versionInfo.revision == null then default else versionInfo.revision;
  };
  # The Debian packages `pkgs` stands for: their versions, as lab.py recorded them
  debianVersions = if b.pathExists ./debian-versions.json then b.fromJSON (b.readFile ./debian-versions.json) else { };
  debianVersion = name: debianVersions.${name}
    or (b.throw "televoc lab: the version of Debian's ${name} is not recorded in the stand-in nixpkgs");

  libBase = rec {
    # --- properties --------------------------------------------------------------------
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkOverride = priority: content: { _type = "override"; inherit priority content; };
    mkOptionDefault = mkOverride 1500;
    mkDefault = mkOverride 1000;
    mkImageMediaOverride = mkOverride 60;
    mkForce = mkOverride 50;
    mkVMOverride = mkOverride 10;
    mkOrder = priority: content: { _type = "order"; inherit priority content; };
    mkBefore = mkOrder 500;
    mkAfter = mkOrder 1500;
    # --- option declarations -----------------------------------------------------------
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption = name: mkOption { type = types.bool; default = false; example = true;
      description = "Whether to enable ${name}."; };
    mkPackageOption = pkgSet: name: extra: mkOption {
      type = types.package;
      default = if b.isList name then attrByPath name null pkgSet else pkgSet.${name};
    };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    literalExample = literalExpression;
    literalMD = text: { _type = "literalMD"; inherit text; };
    mdDoc = x: x;
    showOption = loc: concatStringsSep "." loc;
    # --- types (check, merge and description as in nixpkgs' lib/types.nix) --------------
    types = typesFn;
    typesFn = rec {
      mkOptionType = attrs: {
        _type = "option-type";
        check = _: true;
        merge = loc: defs: mergeDefault loc defs;
        description = attrs.name;
        composite = false;
      } // attrs;
      # values of every definition must be equal (nixpkgs' mergeEqualOption)
      equal = loc: defs: let v = (head defs).value; in
        if all (d: d.value == v) defs then v else conflictError loc defs;
      unspecified = mkOptionType { name = "unspecified"; description = "unspecified value"; };
      anything = mkOptionType { name = "anything"; };
      raw = mkOptionType { name = "raw"; description = "raw value"; merge = equal; };
      bool = mkOptionType { name = "bool"; description = "boolean"; check = isBool; merge = equal; };
      int = mkOptionType { name = "int"; description = "signed integer"; check = isInt; merge = equal; };
      intBetween = lo: hi: desc: mkOptionType {
        name = "intBetween"; description = desc; merge = equal;
        check = v: isInt v && v >= lo && v <= hi; };
      ints = {
        unsigned = mkOptionType { name = "unsignedInt"; description = "unsigned integer, meaning >=0";
          check = v: isInt v && v >= 0; merge = equal; };
        positive = mkOptionType { name = "positiveInt"; description = "positive integer, meaning >0";
          check = v: isInt v && v > 0; merge = equal; };
        between = lo: hi: intBetween lo hi "integer between ${toString lo} and ${toString hi} (both inclusive)";
        u16 = port; u8 = intBetween 0 255 "8 bit unsigned integer; between 0 and 255 (both inclusive)";
        s16 = intBetween (-32768) 32767 "16 bit signed integer; between -32768 and 32767 (both inclusive)";
      };
      port = intBetween 0 65535 "16 bit unsigned integer; between 0 and 65535 (both inclusive)";
      float = mkOptionType { name = "float"; description = "floating point number"; check = b.isFloat; merge = equal; };
      number = mkOptionType { name = "number"; description = "signed integer or floating point number";
        check = v: isInt v || b.isFloat v; merge = equal; };
      str = mkOptionType { name = "str"; description = "string"; check = isString; merge = equal; };
      nonEmptyStr = mkOptionType { name = "nonEmptyStr"; description = "non-empty string";
        check = v: isString v && b.match "[ \t\n]*" v == null; merge = equal; };
      singleLineStr = mkOptionType { name = "singleLineStr";
        description = "(optionally newline-terminated) single-line string";
        check = v: isString v && b.match "[^\n\r]*\n?" v != null;
        merge = loc: defs: removeSuffix "\n" (equal loc defs); };
      strMatching = re: mkOptionType { name = "strMatching ${b.toJSON re}";
        description = "string matching the pattern ${re}";
        check = v: isString v && b.match re v != null; merge = equal; };
      separatedString = sep: mkOptionType { name = "separatedString";
        description = if sep == "" then "Concatenated string" else "strings concatenated with ${b.toJSON sep}";
        check = isString;
        merge = loc: defs: concatStringsSep sep (map (d: d.value) defs); };
      lines = separatedString "\n";
      commas = separatedString ",";
      envVar = separatedString ":";
      string = separatedString "";
      passwdEntry = t: t // { name = "passwdEntry ${t.name}";
        description = "${t.description}, not containing newlines or colons";
        check = v: t.check v && b.match ".*[:\n].*" (toString v) == null; };
      path = mkOptionType { name = "path"; description = "absolute path";
        check = v: (isString v || isPath v || (isAttrs v && v ? outPath)) && substring 0 1 (toString v) == "/";
        merge = equal; };
      pathInStore = path;
      package = mkOptionType { name = "package"; description = "package";
        check = v: isDerivation v || ((isString v || isPath v) && hasPrefix "/" (toString v));
        merge = equal; };
      shellPackage = package // { name = "shellPackage"; description = "shell package"; };
      attrs = mkOptionType { name = "attrs"; description = "attribute set"; check = isAttrs;
        merge = loc: defs: foldl' (acc: d: acc // d.value) { } defs; };
      enum = values: mkOptionType { name = "enum";
        description = if values == [ ] then "impossible (empty enum)"
          else if length values == 1 then "value ${showValue (head values)} (singular enum)"
          else "one of ${concatMapStringsSep ", " showValue values}";
        check = v: elem v values; merge = equal; };
      nullOr = t: mkOptionType { name = "nullOr"; composite = true;
        description = "null or ${phrase t}";
        check = v: v == null || t.check v;
        merge = loc: defs:
          let nulls = filter (d: d.value == null) defs; in
          if length nulls == length defs then null
          else if nulls != [ ] then b.throw "The option `${showLoc loc}' is defined both null and not null, in ${concatMapStringsSep ", " (d: "`${d.file}'") defs}."
          else t.merge loc defs; };
      either = t1: t2: mkOptionType { name = "either"; composite = true;
        description = "${phrase t1} or ${phrase t2}";
        check = v: t1.check v || t2.check v;
        merge = loc: defs:
          if all (d: t1.check d.value) defs then t1.merge loc defs
          else if all (d: t2.check d.value) defs then t2.merge loc defs
          else equal loc defs; };
      oneOf = ts: foldl' either (head ts) (tail ts);
      listOf = t: mkOptionType { name = "listOf"; composite = true;
        description = "list of ${phrase t}";
        check = isList;
        merge = loc: defs: concatLists (imap1 (n: d: imap1 (m: v:
          let l = loc ++ [ "[definition ${toString n}-entry ${toString m}]" ]; in
          if t.check v then t.merge l [ { inherit (d) file; value = v; } ]
          else badType l t.description [ { inherit (d) file; value = v; } ]) d.value) defs); };
      # attrsOf: per name, each name merged with t (a name whose definitions are all
      # mkIf false is absent, as in nixpkgs)
      attrsOf = t: mkOptionType { name = "attrsOf"; composite = true;
        description = "attribute set of ${phrase t}";
        check = v: isAttrs v && !(isDerivation v);
        merge = loc: defs:
          let
            perName = zipAttrsWith (n: ds: ds) (map (d: mapAttrs (n: v: { inherit (d) file; value = v; }) d.value) defs);
            valued = filterAttrs (n: ds: finalDefs (loc ++ [ n ]) ds != [ ]) perName;
          in mapAttrs (n: ds: mergeTyped (loc ++ [ n ]) t (finalDefs (loc ++ [ n ]) ds)) valued; };
      lazyAttrsOf = attrsOf;
      # submodule: a closed set of options; `declsFor name` gives them (name: the attribute
      # name for attrsOf (submodule ...), the last path element otherwise)
      submoduleDecls = declsFor: mkOptionType { name = "submodule"; composite = false;
        description = "submodule";
        check = v: isAttrs v && !(isDerivation v);
        merge = loc: defs: mergeNode loc (declsFor (last loc)) defs; };
      submodule = _: submoduleDecls (_: { _open = true; });
      # attrTag: an attribute set with exactly one of the tags, its value of that tag's type
      attrTag = tags: mkOptionType { name = "attrTag"; composite = false;
        description = "attribute-tagged union with choices: ${concatStringsSep ", " (b.attrNames tags)}";
        check = v: isAttrs v && length (b.attrNames v) == 1 && tags ? ${head (b.attrNames v)}
          && (tags.${head (b.attrNames v)}.type.check v.${head (b.attrNames v)});
        merge = equal; };
      submoduleWith = _: submoduleDecls (_: { _open = true; });
      functionTo = _: mkOptionType { name = "functionTo"; description = "function"; check = isFunction; };
      coercedTo = from: f: to: to;
      addCheck = t: check: t // { check = v: t.check v && check v; };
      uniq = t: t // { merge = equal; };
      unique = _: uniq;
      # systemd's unitOption (lib/systemd-unit-options.nix): lists concatenate, else equal
      unitOption = mkOptionType { name = "systemd option"; description = "systemd option";
        check = v: isString v || isInt v || isBool v || isList v || isPath v || isDerivation v || b.isFloat v;
        merge = loc: defs:
          if isList (head defs).value then concatMap (d:
            if isList d.value then d.value
            else b.throw "The definitions for systemd unit options should be either all lists, representing repeatable options, or all non-lists, but for the option ${showLoc loc}, the definitions are a mix of list and non-list ${showDefs defs}") defs
          else equal loc defs; };
      # nixpkgs' optionDescriptionPhrase: composite types in parentheses
      phrase = t: if t.composite or false then "(${t.description})" else t.description;
    };
    # --- trivial, lists ------------------------------------------------------------------
    inherit (b) all any attrNames attrValues concatLists concatMap concatStringsSep elem
      elemAt filter foldl' fromJSON functionArgs genList hasAttr head intersectAttrs isAttrs
      isBool isFunction isInt isList isPath isString length listToAttrs mapAttrs match
      pathExists readFile removeAttrs replaceStrings sort split stringLength substring tail
      toJSON toString trace typeOf zipAttrsWith;
    id = x: x;
    const = x: _: x;
    flip = f: x: y: f y x;
    fix = f: let x = f x; in x;
    min = x: y: if x < y then x else y;
    max = x: y: if x > y then x else y;
    boolToString = x: if x then "true" else "false";
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalString = cond: s: if cond then s else "";
    optionalAttrs = cond: as: if cond then as else { };
    foldr = op: nul: list:
      let len = length list; go = n: if n == len then nul else op (elemAt list n) (go (n + 1));
      in go 0;
    flatten = x: if isList x then concatMap flatten x else [ x ];
    unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];
    subtractLists = e: filter (x: !(elem x e));
    range = first: last: if first > last then [ ] else genList (n: first + n) (last - first + 1);
    imap0 = f: list: genList (n: f n (elemAt list n)) (length list);
    imap1 = f: list: genList (n: f (n + 1) (elemAt list n)) (length list);
    last = list: elemAt list (length list - 1);
    take = n: list: genList (elemAt list) (min n (length list));
    drop = n: list: genList (i: elemAt list (i + n)) (max 0 (length list - n));
    reverseList = xs: let l = length xs; in genList (n: elemAt xs (l - n - 1)) l;
    count = pred: foldl' (c: x: if pred x then c + 1 else c) 0;
    # --- strings ---------------------------------------------------------------------------
    concatStrings = concatStringsSep "";
    concatMapStrings = f: list: concatStrings (map f list);
    concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
    concatLines = concatMapStrings (s: s + "\n");
    stringToCharacters = s: genList (p: substring p 1 s) (stringLength s);
    hasPrefix = pref: str: substring 0 (stringLength pref) str == pref;
    hasSuffix = suf: str:
      let ls = stringLength str; lf = stringLength suf;
      in ls >= lf && substring (ls - lf) lf str == suf;
    removePrefix = pref: str:
      if hasPrefix pref str then substring (stringLength pref) (-1) str else str;
    removeSuffix = suf: str:
      if hasSuffix suf str then substring 0 (stringLength str - stringLength suf) str else str;
    escapeRegex = let cs = stringToCharacters "\\[{()^$?*+|."; in
      replaceStrings cs (map (c: "\\" + c) cs);
    splitString = sep: s: filter isString (split (escapeRegex sep) s);
    upperChars = stringToCharacters "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    lowerChars = stringToCharacters "abcdefghijklmnopqrstuvwxyz";
    toLower = replaceStrings upperChars lowerChars;
    toUpper = replaceStrings lowerChars upperChars;
    escapeShellArg = arg: "'${replaceStrings [ "'" ] [ "'\\''" ] (toString arg)}'";
    escapeShellArgs = concatMapStringsSep " " escapeShellArg;
    fileContents = file: removeSuffix "\n" (readFile file);
    # --- attrsets --------------------------------------------------------------------------
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: listToAttrs (map (n: f n set.${n}) (attrNames set));
    mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
    filterAttrs = pred: set: listToAttrs (concatMap
      (n: let v = set.${n}; in if pred n v then [ (nameValuePair n v) ] else [ ]) (attrNames set));
    genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);
    attrByPath = path: default: set:
      if path == [ ] then set
      else if isAttrs set && set ? ${head path} then attrByPath (tail path) default set.${head path}
      else default;
    hasAttrByPath = path: set: attrByPath path null set != null;
    setAttrByPath = path: value:
      if path == [ ] then value else { ${head path} = setAttrByPath (tail path) value; };
    recursiveUpdate = lhs: rhs: lhs // mapAttrs (n: v:
      if isAttrs v && isAttrs (lhs.${n} or null) then recursiveUpdate lhs.${n} v else v) rhs;
    isDerivation = x: isAttrs x && (x.type or null) == "derivation";
    assertMsg = pred: msg: pred || b.throw msg;
    warn = msg: trace "warning: ${msg}";
    versionOlder = v1: v2: b.compareVersions v2 v1 == 1;
    versionAtLeast = v1: v2: !(versionOlder v1 v2);
    getExe = p: "${p}/bin/${p.meta.mainProgram or p.pname or p.name}";
    getExe' = p: exe: "${p}/bin/${exe}";
    getBin = p: p;
    makeBinPath = concatMapStringsSep ":" (p: "${p}/bin");
    xor = x: y: (x || y) && !(x && y);
    escape = list: replaceStrings list (map (c: "\\${c}") list);
    floatToString = f: toString f;
    # nixpkgs' sanitizeDerivationName: invalid store-name characters become "-"
    sanitizeDerivationName = s:
      let x = concatStrings (map (p: if isList p then "-" else p)
                (split "[^[:alnum:]+._?=-]+" (head (match "\\.*(.*)" s))));
      in if b.match "[[:alnum:]+_?=-][[:alnum:]+._?=-]*" s != null then s
         else if x == "" then "unknown" else x;
    # --- lib.generators (toINI, toKeyValue, mkKeyValueDefault as in nixpkgs) ---------------
    generators = rec {
      mkValueStringDefault = { }: v:
        if isInt v then toString v
        else if isDerivation v then toString v
        else if isString v then v
        else if true == v then "true"
        else if false == v then "false"
        else if null == v then "null"
        else if b.isFloat v then floatToString v
        else b.throw "generators.mkValueStringDefault: ${typeOf v} not supported";
      mkKeyValueDefault = { mkValueString ? mkValueStringDefault { } }: sep: k: v:
        "${escape [ sep ] k}${sep}${mkValueString v}";
      toKeyValue = { mkKeyValue ? mkKeyValueDefault { } "=", listsAsDuplicateKeys ? false, indent ? "" }:
        attrs:
        let
          mkLine = k: v: indent + mkKeyValue k v + "\n";
          mkLines = if listsAsDuplicateKeys
            then k: v: map (mkLine k) (if isList v then v else [ v ])
            else k: v: [ (mkLine k v) ];
        in concatStrings (concatLists (mapAttrsToList mkLines attrs));
      toINI = { mkSectionName ? (name: escape [ "[" "]" ] name),
                mkKeyValue ? mkKeyValueDefault { } "=", listsAsDuplicateKeys ? false }:
        attrsOfAttrs:
        concatStringsSep "\n" (mapAttrsToList (sectName: sectValues:
          "[${mkSectionName sectName}]\n"
          + toKeyValue { inherit mkKeyValue listsAsDuplicateKeys; } sectValues) attrsOfAttrs);
    };
  };
  lib = libBase // trivialAttrs // {
    strings = libBase; lists = libBase; attrsets = libBase; trivial = libBase // trivialAttrs;
    modules = libBase; options = libBase; inherit (libBase) types;
  };

  # --- pkgs: Debian's packages in the chroot ------------------------------------------------
  # A package is a derivation-like attrset whose outPath is Debian's /usr, so that
  # "${pkgs.python3}/bin/python3" is /usr/bin/python3 (the binary the lab runs).
  debianPackage = name: {
    type = "derivation"; inherit name; pname = name; outPath = "/usr"; outputName = "out";
    meta = { mainProgram = name; description = "Debian's ${name} in the lab's chroot"; };
  };
  debianPackages = [ "python3" "bash" "bashInteractive" "coreutils" "findutils" "gnugrep"
    "gnused" "gawk" "systemd" "iproute2" "iptables" "nftables" "curl" "openssh" "shadow"
    "util-linux" "procps" "sipp" "baresip" "nix" "asterisk" "fail2ban" ];
  pkgs = libBase.genAttrs debianPackages debianPackage // {
    inherit lib;
    system = "x86_64-linux";
    stdenv = { hostPlatform.system = "x86_64-linux"; isLinux = true; };
    runtimeShell = "/bin/sh";
    # python3.withPackages (ps: [ ps.flask ... ]): Debian's python3 with the packages
    # build-rootfs.sh installs; a package name nixpkgs' python3Packages has not (here: not
    # in python3Packages below) fails the evaluation as it would on NixOS.
    python3 = debianPackage "python3" // {
      interpreter = "/usr/bin/python3"; pythonVersion = "3";
      withPackages = f: builtins.deepSeq (map (p: p.name) (f pkgs.python3Packages)) pkgs.python3;
    };
    shadow = debianPackage "shadow" // { shellPath = "/sbin/nologin"; };
    bash = debianPackage "bash" // { shellPath = "/bin/bash"; };
    bashInteractive = debianPackage "bash" // { shellPath = "/bin/bash"; };
    python3Packages = {
      python = pkgs.python3;
      flask = debianPackage "python3-flask";
      flask-wtf = debianPackage "python3-flaskext.wtf";
      waitress = debianPackage "python3-waitress";
    };
    # A real store file (not executable, as nixpkgs' writeText); a name that is not a valid
    # store name ("filter.d/x.local") is sanitised ("filter.d-x.local").
    writeText = name: text: b.toFile (libBase.sanitizeDerivationName name) text;
    concatText = name: files: pkgs.writeText name (libBase.concatMapStrings b.readFile files);
    # services.fail2ban's package: Debian's fail2ban, laid out as nixpkgs' is (build-rootfs.sh):
    # etc/fail2ban (Debian's /etc/fail2ban as shipped), bin/ (links to /usr/bin/fail2ban-*),
    # lib/systemd/system/fail2ban.service (Debian's unit).
    # services.asterisk's package: Debian's Asterisk, laid out as nixpkgs' output
    # (build-rootfs.sh): bin/ and sbin/asterisk, lib/asterisk/modules, etc/asterisk (the
    # samples) and the var/{lib,spool,log}/asterisk skeleton that the unit's preStart copies.
    # Its version is Debian's upstream version (lab.py: "22.10.1" of "1:22.10.1+dfsg+~cs6...-1").
    asterisk = let version = debianVersion "asterisk"; in debianPackage "asterisk" // {
      outPath = "/usr/share/televoc-lab/asterisk"; inherit version; name = "asterisk-${version}"; };
    # services.firewalld's package: not in the lab (firewalld is evaluated, never run)
    firewalld = debianPackage "firewalld" // { outPath = "/televoc-lab-has-no-firewalld"; };
    fail2ban = debianPackage "fail2ban" // { outPath = "/usr/share/televoc-lab/fail2ban"; version = "1.1.1"; };
    # pkgs.formats.ini / keyValue (pkgs/pkgs-lib/formats.nix): types and generators;
    # listsAsDuplicateKeys and listToValue are not simulated.
    formats = {
      ini = { listsAsDuplicateKeys ? false, listToValue ? null, atomsCoercedToLists ? null, ... }@args:
        assert libBase.assertMsg (!listsAsDuplicateKeys && listToValue == null)
          "televoc lab: pkgs.formats.ini's listsAsDuplicateKeys/listToValue are not simulated";
        {
          type = iniType;
          lib.types.atom = iniAtom;
          generate = name: value: pkgs.writeText name
            (libBase.generators.toINI (b.removeAttrs args [ "listToValue" "atomsCoercedToLists" ]) value);
        };
      keyValue = { listsAsDuplicateKeys ? false, listToValue ? null, ... }@args:
        assert libBase.assertMsg (!listsAsDuplicateKeys && listToValue == null)
          "televoc lab: pkgs.formats.keyValue's listsAsDuplicateKeys/listToValue are not simulated";
        {
          type = types.attrsOf keyValueAtom;
          generate = name: value: pkgs.writeText name
            (libBase.generators.toKeyValue (b.removeAttrs args [ "listToValue" ]) value);
        };
    };
  };
  # formats.nix's atoms and the ini type
  iniAtom = types.nullOr (types.oneOf [ types.bool types.int types.float types.str ])
    // { description = "INI atom (null, bool, int, float or string)"; };
  iniType = types.attrsOf (types.attrsOf iniAtom
    // { description = "section of an INI file (attrs of ${iniAtom.description})"; });
  keyValueAtom = types.nullOr (types.oneOf [ types.bool types.int types.float types.str ])
    // { description = "atom (null, bool, int, float or string)"; };

  moduleArgs = {
    inherit config lib pkgs;
    options = { };
    modulesPath = "/televoc-lab-has-no-nixpkgs/nixos/modules";
  } // specialArgs;

  inherit (libBase) concatMapStringsSep concatStringsSep filter concatMap attrNames head
    mkOption mkIf mkDefault mkMerge optional optionals types genAttrs unique mapAttrs
    filterAttrs;

  # --- error messages, shaped like NixOS's ----------------------------------------------
  showPart = p: if b.match "[a-zA-Z_][a-zA-Z0-9_'-]*" p != null then p else b.toJSON p;
  showLoc = loc: concatMapStringsSep "." showPart loc;
  showValue = v:
    if b.isString v then b.toJSON v
    else if b.isBool v then libBase.boolToString v
    else if b.isInt v || b.isFloat v then toString v
    else if v == null then "null"
    else if b.isPath v then toString v
    else if b.isList v then "[ ${concatMapStringsSep " " showValue v} ]"
    else if b.isAttrs v then
      (if libBase.isDerivation v then "<derivation ${v.name or "?"}>"
       else if (v._type or null) == "if" then "<mkIf>"
       else "{ ${concatMapStringsSep " " (n: "${showPart n} = ${showValue v.${n}};") (attrNames v)} }")
    else "<function>";
  showDefs = defs: concatMapStringsSep "\n" (d: "- In `${d.file}': ${showValue d.value}") defs;
  conflictError = loc: defs: b.throw ''
    The option `${showLoc loc}' has conflicting definition values:
    ${showDefs defs}
    Use `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.'';
  badType = loc: typeName: defs: b.throw ''
    A definition for option `${showLoc loc}' is not of type `${typeName}'. Definition values:
    ${showDefs defs}'';
  doesNotExist = loc: defs: b.throw ''
    The option `${showLoc loc}' does not exist. Definition values:
    ${showDefs defs}'';

  # --- loading modules ---------------------------------------------------------------------
  isPathLike = m: b.isPath m || b.isString m;
  loadModule = file: m:
    let
      f = if isPathLike m then import m else m;
      fargs = if b.isFunction f then b.functionArgs f else { };
      v = if b.isFunction f
          then f (if fargs == { } then moduleArgs else b.intersectAttrs fargs moduleArgs)
          else f;
      meta = [ "imports" "_file" "key" "meta" "disabledModules" "_class" ];
      explicit = v ? config || v ? options;
      stray = b.attrNames (b.removeAttrs v (meta ++ [ "config" "options" ]));
    in
      if !(b.isAttrs v) then b.throw "The module `${file}' is not an attribute set or a function returning one."
      else if explicit && stray != [ ] then b.throw
        "Module `${file}' has an unsupported attribute `${head stray}'. This is caused by introducing a top-level `config' or `options' attribute. Add configuration attributes immediately on the top level instead, or move all of them (namely: ${concatStringsSep " " stray}) into the explicit `config' attribute."
      else {
        file = v._file or file;
        imports = v.imports or [ ];
        options = v.options or { };
        config = if explicit then v.config or { } else b.removeAttrs v meta;
      };

  # Each module once, found through `imports`: an inline module is keyed by its parent's key
  # and its place there, and its file is its parent's file (lib/modules.nix does the same).
  item = parentKey: parentFile: idx: m:
    let key = if isPathLike m then toString m else "${parentKey}:anon-${toString idx}";
    in { inherit key; mod = loadModule (if isPathLike m then key else parentFile) m; };
  # The stand-in's own modules (NixOS's, below) come first, as nixpkgs' modules do.
  standinItem = file: cfg: { key = file; mod = { inherit file; imports = [ ]; options = { }; config = cfg; }; };
  modules = map (i: i.mod) (b.genericClosure {
    startSet = standinModules ++ [ (item "<root>" "<root>" 0 configuration) ];
    operator = i: libBase.imap0 (item i.key i.mod.file) i.mod.imports;
  });

  # User-declared options contribute their defaults (priority 1500, as mkOptionDefault);
  # their types are not checked.
  optionDefaults = opts:
    if (opts._type or null) == "option"
    then (if opts ? default then libBase.mkOptionDefault opts.default else libBase.mkMerge [ ])
    else if b.isAttrs opts then b.mapAttrs (_: optionDefaults) opts else { };

  # --- merging -------------------------------------------------------------------------
  # What a definition is once its mkIf/mkOverride/mkMerge wrappers are peeled, without
  # evaluating any condition: "attrs" (descend), "leaf" or "empty" (mkMerge []).
  kindOf = v:
    if b.isAttrs v && v ? _type then
      (if b.elem v._type [ "if" "override" "order" ] then kindOf v.content
       else if v._type == "merge" then
         (let ks = b.filter (k: k != "empty") (map kindOf v.contents); in
          if ks == [ ] then "empty" else if b.all (k: k == "attrs") ks then "attrs" else "leaf")
       else "leaf")
    else if b.isAttrs v && !(libBase.isDerivation v) then "attrs" else "leaf";

  # An attrset definition wrapped in properties -> plain attrsets whose values carry them.
  pushDown = v:
    if !(v ? _type) then [ v ]
    else if v._type == "merge" then concatMap pushDown (filter (c: kindOf c != "empty") v.contents)
    else if v._type == "if" then map (b.mapAttrs (_: libBase.mkIf v.condition)) (pushDown v.content)
    else if v._type == "override" then map (b.mapAttrs (_: libBase.mkOverride v.priority)) (pushDown v.content)
    else if v._type == "order" then pushDown v.content
    else [ v ];

  # A leaf definition -> [ { file; priority; order; value; } ], mkIf conditions evaluated.
  discharge = loc: file: v:
    if b.isAttrs v && v ? _type then
      (if v._type == "merge" then concatMap (discharge loc file) v.contents
       else if v._type == "if" then
         (if !(b.isBool v.condition)
          then b.throw "The option `${showLoc loc}' in `${file}': mkIf called with a non-Boolean condition"
          else if v.condition then discharge loc file v.content else [ ])
       else if v._type == "override" then map (d: d // { inherit (v) priority; }) (discharge loc file v.content)
       else if v._type == "order" then map (d: d // { order = v.priority; }) (discharge loc file v.content)
       else [ { inherit file; priority = 100; order = 1000; value = v; } ])
    else [ { inherit file; priority = 100; order = 1000; value = v; } ];

  filterOverrides = defs:
    let top = b.foldl' (p: d: if d.priority < p then d.priority else p) 9999 defs;
    in filter (d: d.priority == top) defs;
  byOrder = defs: b.sort (x: y: x.order < y.order) defs;
  # [ { file; value; } ] -> the definitions that count, properties applied, in order.
  finalDefs = loc: defs: byOrder (filterOverrides (concatMap (d: discharge loc d.file d.value) defs));

  # nixpkgs' mergeDefaultOption (types.unspecified, undeclared options' leaves)
  mergeDefault = loc: defs:
    let list = map (d: d.value) defs; in
    if b.length list == 1 then head list
    else if b.all b.isList list then b.concatLists list
    else if b.all b.isAttrs list then b.foldl' (a: v: a // v) { } list
    else if b.all b.isBool list then b.any (x: x) list
    else if b.all b.isString list then concatStringsSep "" list
    else if b.all (x: x == head list) list then head list
    else b.throw "Cannot merge definitions of `${showLoc loc}'. Definition values:\n${showDefs defs}";

  mergeEqual = loc: defs:
    if defs == [ ] then b.throw "The option `${showLoc loc}' is used but not defined."
    else if b.all (d: d.value == (head defs).value) defs then (head defs).value
    else conflictError loc defs;

  # Undeclared option: lists concatenate, everything else must agree.
  mergeFree = loc: defs:
    let ds = filterOverrides defs; in
    if ds != [ ] && b.all (d: b.isList d.value) ds then concatMap (d: d.value) (byOrder ds)
    else mergeEqual loc ds;

  # Final definitions of a typed option -> its value (type checked, then merged).
  mergeTyped = loc: t: defs:
    let bad = filter (d: !(t.check d.value)) defs; in
    if defs == [ ] then b.throw "The option `${showLoc loc}' is used but not defined."
    else if bad != [ ] then badType loc t.description bad
    else t.merge loc defs;

  isOptionDecl = d: b.isAttrs d && (d._type or null) == "option";
  pushedDefs = defs: concatMap
    (d: map (b.mapAttrs (_: v: { inherit (d) file; value = v; })) (pushDown d.value)) defs;

  # The merge, driven by the declarations: `decl` is an option (mkOption), a set of options
  # (closed: an unknown attribute does not exist; `_open = true`: unknown attributes are
  # undeclared options, merged freely) or null (undeclared).
  mergeNode = loc: decl: defs:
    if decl == null then mergeFreeNode loc defs
    else if isOptionDecl decl then mergeOption loc decl defs
    else mergeNamespace loc decl defs;

  mergeFreeNode = loc: defs:
    let nonEmpty = filter (d: kindOf d.value != "empty") defs; in
    if nonEmpty != [ ] && b.all (d: kindOf d.value == "attrs") nonEmpty
    then b.zipAttrsWith (n: mergeNode (loc ++ [ n ]) null) (pushedDefs nonEmpty)
    else mergeFree loc (concatMap (d: discharge loc d.file d.value) defs);

  mergeOption = loc: decl: defs:
    let
      declFile = decl.declFile or "<televoc lab stand-in>";
      withDefault = concatMap (d: discharge loc d.file d.value) defs
        ++ optionals (decl ? default)
          [ { file = declFile; priority = 1500; order = 1000; value = decl.default; } ];
      v = mergeTyped loc (decl.type or types.unspecified) (byOrder (filterOverrides withDefault));
      # lib/modules.nix: a readOnly option counts its default as a definition
      allDefs = optionals (decl ? default) [ { file = declFile; value = decl.default; } ] ++ defs;
    in
      if (decl.readOnly or false) && b.length allDefs > 1
      then b.throw "The option `${showLoc loc}' is read-only, but it's set multiple times. Definition values:\n${showDefs allDefs}"
      else if decl ? apply then decl.apply v else v;

  mergeNamespace = loc: decl: defs:
    let
      nonEmpty = filter (d: kindOf d.value != "empty") defs;
      notAttrs = filter (d: kindOf d.value != "attrs") nonEmpty;
      aliases = decl._aliases or { };
      # mkAliasOptionModule: users.extraUsers.x is users.users.x
      unalias = p: [ (b.removeAttrs p (attrNames aliases)) ]
        ++ map (a: { ${aliases.${a}} = p.${a}; }) (filter (a: p ? ${a}) (attrNames aliases));
      pushed = concatMap unalias (pushedDefs nonEmpty);
      # an option without a default that nothing defines is absent (forcing it would be
      # "used but not defined", as in NixOS)
      declNames = filter (n: n != "_open" && n != "_aliases" && n != "_freeform"
        && (!(isOptionDecl decl.${n}) || decl.${n} ? default || defsOf n != [ ])) (attrNames decl);
      defNames = unique (concatMap attrNames pushed);
      # `_freeform = type`: unknown attributes are options of that type (freeformType)
      unknown = if decl._open or false || decl ? _freeform then [ ] else filter (n: !(decl ? ${n})) defNames;
      defsOf = n: map (p: p.${n}) (filter (p: p ? ${n}) pushed);
    in
      if notAttrs != [ ] then badType loc "submodule" (concatMap (d: discharge loc d.file d.value) notAttrs)
      else if unknown != [ ] then doesNotExist (loc ++ [ (head unknown) ]) (defsOf (head unknown))
      else genAttrs (unique (declNames ++ defNames)) (n: mergeNode (loc ++ [ n ])
        (decl.${n} or (if decl ? _freeform then mkOption { type = decl._freeform; } else null)) (defsOf n));

  # --- declarations: NixOS's options, as in nixpkgs --------------------------------------
  opt = type: default: mkOption { inherit type default; };
  lines = opt types.lines "";
  bool = opt types.bool;
  strList = opt (types.listOf types.str) [ ];
  canonicalizePortList = ports: unique (b.sort b.lessThan ports);
  portOptions = {   # firewall.nix's commonOptions
    allowedTCPPorts = opt (types.listOf types.port) [ ] // { apply = canonicalizePortList; };
    allowedTCPPortRanges = opt (types.listOf (types.attrsOf types.port)) [ ];
    allowedUDPPorts = opt (types.listOf types.port) [ ] // { apply = canonicalizePortList; };
    allowedUDPPortRanges = opt (types.listOf (types.attrsOf types.port)) [ ];
  };
  portsSubmodule = types.submoduleDecls (_: portOptions);
  fw = config.networking.firewall;
  nft = config.networking.nftables;

  firewallDecls = portOptions // {
    # firewall.nix
    enable = bool true;
    backend = opt (types.enum [ "iptables" "nftables" "firewalld" ])
      (if config.services.firewalld.enable then "firewalld"
       else if nft.enable then "nftables" else "iptables");
    package = opt types.package (if nft.enable then pkgs.nftables else pkgs.iptables);
    logRefusedConnections = bool false;
    logRefusedPackets = bool false;
    logRefusedUnicastsOnly = bool true;
    rejectPackets = bool false;
    trustedInterfaces = strList;
    allowPing = bool true;
    pingLimit = opt (types.nullOr (types.separatedString " ")) null;
    checkReversePath = opt (types.either types.bool (types.enum [ "strict" "loose" ])) true;
    logReversePathDrops = bool false;
    filterOutput = opt (types.submoduleDecls (_: portOptions // {
      enabled = bool false;
      interfaces = opt (types.attrsOf portsSubmodule) { };
      trustedInterfaces = strList;
      extraRules = lines;
      allInterfaces = opt (types.attrsOf portsSubmodule)
        ({ default = b.mapAttrs (n: _: fw.filterOutput.${n}) portOptions; } // fw.filterOutput.interfaces);
    })) { };
    filterForward = bool false;
    connectionTrackingModules = strList;
    autoLoadConntrackHelpers = bool false;
    extraPackages = opt (types.listOf types.package) [ ];
    interfaces = opt (types.attrsOf portsSubmodule) { };
    allInterfaces = opt (types.attrsOf portsSubmodule)
      ({ default = b.mapAttrs (n: _: fw.${n}) portOptions; } // fw.interfaces);
    # firewall-iptables.nix
    extraCommands = lines;
    extraStopCommands = lines;
    # firewall-nftables.nix
    extraInputRules = lines;
    extraForwardRules = lines;
    extraReversePathFilterRules = lines;
  };

  nftablesDecls = {
    enable = bool false;
    checkRuleset = bool true;
    checkRulesetRedirects = opt (types.attrsOf types.path) { };
    extraDeletions = lines;
    flattenRulesetFile = bool false;
    # mkEnableOption; nftables.nix sets it mkDefault as below
    flushRuleset = opt types.bool false;
    preCheckRuleset = lines;
    ruleset = lines;
    rulesetFile = opt (types.nullOr types.path) null;
    tables = opt (types.attrsOf (types.submoduleDecls (name: {
      enable = bool true;
      content = mkOption { type = types.lines; };
      family = mkOption { type = types.enum [ "ip" "ip6" "inet" "arp" "bridge" "netdev" ]; };
      name = opt types.str name;
    }))) { };
  };

  # services/networking/firewalld/{default,settings,zone,service,lib}.nix: the options with
  # nixpkgs' types and defaults. The lab does not run firewalld: a configuration that enables
  # it is evaluated (assertions included) and then refused by nixos-rebuild.
  fwd = config.services.firewalld;
  nonEmptyStrList = opt (types.listOf types.nonEmptyStr) [ ];
  nullNonEmptyStr = opt (types.nullOr types.nonEmptyStr) null;
  fwdPortOption = optional: mkOption {
    type = let t = types.either types.port (types.submoduleDecls (_: {
      from = mkOption { type = types.port; }; to = mkOption { type = types.port; }; }));
      in if optional then types.nullOr t else t;
    apply = v: if b.isAttrs v then "${toString v.from}-${toString v.to}" else v;
  };
  fwdProtocol = mkOption { type = types.enum [ "tcp" "udp" "sctp" "dccp" ]; };
  fwdPortProtocol = types.submoduleDecls (_: { port = fwdPortOption false; protocol = fwdProtocol; });
  fwdZoneDecls = _: {
    version = nullNonEmptyStr;
    target = opt (types.enum [ "ACCEPT" "%%REJECT%%" "DROP" ]) "%%REJECT%%";
    ingressPriority = opt (types.nullOr types.ints.s16) null;
    egressPriority = opt (types.nullOr types.ints.s16) null;
    interfaces = nonEmptyStrList;
    sources = opt (types.listOf (types.attrTag {
      address = mkOption { type = types.nonEmptyStr; };
      mac = mkOption { type = types.strMatching "([[:xdigit:]]{2}:){5}[[:xdigit:]]{2}"; };
      ipset = mkOption { type = types.nonEmptyStr; };
    })) [ ];
    icmpBlockInversion = bool false;
    forward = bool false;
    short = nullNonEmptyStr;
    description = nullNonEmptyStr;
    services = nonEmptyStrList;
    ports = opt (types.listOf fwdPortProtocol) [ ];
    protocols = nonEmptyStrList;
    icmpBlocks = nonEmptyStrList;
    masquerade = bool false;
    forwardPorts = opt (types.listOf (types.submoduleDecls (_: {
      port = fwdPortOption false;
      protocol = fwdProtocol;
      to-port = fwdPortOption true // { default = null; };
      to-addr = nullNonEmptyStr;
    }))) [ ];
    sourcePorts = opt (types.listOf fwdPortProtocol) [ ];
    rules = opt (types.listOf types.attrs) [ ];   # pkgs.formats.xml's type: not checked here
  };
  fwdServiceDecls = _: {
    version = nullNonEmptyStr;
    short = nullNonEmptyStr;
    description = nullNonEmptyStr;
    ports = opt (types.listOf fwdPortProtocol) [ ];
    protocols = nonEmptyStrList;
    sourcePorts = opt (types.listOf fwdPortProtocol) [ ];
    destination = opt (types.submoduleDecls (_: {
      ipv4 = opt (types.nullOr (types.strMatching "([0-9]{1,3}\\.){3}[0-9]{1,3}(/[0-9]{1,2})?")) null;
      ipv6 = opt (types.nullOr (types.strMatching "[0-9A-Fa-f:]{3,39}(/[0-9]{1,3})?")) null;
    })) { };
    includes = nonEmptyStrList;
    helpers = nonEmptyStrList;
  };
  firewalldDecls = {
    enable = bool false;
    package = opt types.package pkgs.firewalld;
    packages = opt (types.listOf types.package) [ ];
    extraArgs = strList;
    settings = opt (types.submoduleDecls (_: {
      _freeform = keyValueAtom;   # pkgs.formats.keyValue { }
      DefaultZone = opt types.nonEmptyStr "public";
      CleanupOnExit = bool true;
      CleanupModulesOnExit = bool false;
      IPv6_rpfilter = opt (types.enum [ "strict" "loose" "strict-forward" "loose-forward" "no" ]) "strict";
      IndividualCalls = bool false;
      LogDenied = opt (types.enum [ "all" "unicast" "broadcast" "multicast" "off" ]) "off";
      FirewallBackend = opt (types.enum [ "nftables" "iptables" ]) "nftables";
      FlushAllOnReload = bool true;
      ReloadPolicy = opt (types.either (types.enum [ "DROP" "REJECT" "ACCEPT" ]) types.commas)
        "INPUT:DROP,FORWARD:DROP,OUTPUT:DROP";
      RFC3964_IPv4 = bool true;
      StrictForwardPorts = bool false;
      NftablesFlowtable = opt (types.separatedString " ") "off";
      NftablesCounters = bool false;
      NftablesTableOwner = bool true;
    })) { };
    zones = opt (types.attrsOf (types.submoduleDecls fwdZoneDecls)) { };
    services = opt (types.attrsOf (types.submoduleDecls fwdServiceDecls)) { };
  };

  unitName = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";
  unitList = opt (types.listOf unitName) [ ];
  checkService = sc:
    (!(sc ? Type) || b.elem sc.Type [ "exec" "simple" "forking" "oneshot" "dbus" "notify" "notify-reload" "idle" ])
    && (!(sc ? Restart) || b.elem sc.Restart [ "no" "on-success" "on-failure" "on-abnormal" "on-abort" "on-watchdog" "always" ]);
  serviceDecls = name: {
    # lib/systemd-unit-options.nix: sharedOptions, commonUnitOptions
    enable = bool true;
    overrideStrategy = opt (types.enum [ "asDropinIfExists" "asDropin" ]) "asDropinIfExists";
    requiredBy = unitList; upheldBy = unitList; wantedBy = unitList; aliases = unitList;
    description = opt types.singleLineStr "";
    documentation = strList;
    requires = unitList; wants = unitList; upholds = unitList; after = unitList;
    before = unitList; bindsTo = unitList; partOf = unitList; conflicts = unitList;
    requisite = unitList; onFailure = unitList; onSuccess = unitList;
    unitConfig = opt (types.attrsOf types.unitOption) { };
    startLimitBurst = mkOption { type = types.int; };
    startLimitIntervalSec = mkOption { type = types.int; };
    # stage2CommonUnitOptions
    restartTriggers = opt (types.listOf types.unspecified) [ ];
    reloadTriggers = opt (types.listOf types.unitOption) [ ];
    # serviceOptions
    environment = opt (types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]))) { };
    path = opt (types.listOf (types.oneOf [ types.package types.str ])) [ ];
    serviceConfig = opt (types.addCheck (types.attrsOf types.unitOption) checkService) { };
    script = lines; scriptArgs = opt types.str ""; preStart = lines; postStart = lines;
    reload = lines; preStop = lines; postStop = lines;
    jobScripts = opt (types.listOf types.unspecified) [ ];
    enableStrictShellChecks = bool false;
    # stage2ServiceOptions
    restartIfChanged = bool true;
    reloadIfChanged = bool false;
    stopIfChanged = bool true;
    notSocketActivated = bool false;
    startAt = opt (types.either types.str (types.listOf types.str)) [ ]
      // { apply = v: if b.isList v then v else [ v ]; };
    # nixos/modules/security/systemd-confinement.nix
    confinement = {
      enable = bool false;
      binSh = opt (types.nullOr types.path) "/bin/sh";
      fullUnit = bool false;
      packages = opt (types.listOf (types.either types.str types.package)) [ ];
      mode = opt (types.enum [ "full-apivfs" "chroot-only" ]) "full-apivfs";
    };
  };

  passwdStr = types.passwdEntry types.str;
  userDecls = name: {
    enable = bool true;
    autoSubUidGidRange = bool false;
    createHome = bool false;
    cryptHomeLuks = opt (types.nullOr types.str) null;
    description = opt passwdStr "";
    expires = opt (types.nullOr (types.strMatching "[[:digit:]]{4}-[[:digit:]]{2}-[[:digit:]]{2}")) null;
    extraGroups = strList;
    group = opt types.str "";
    hashedPassword = opt (types.nullOr passwdStr) null;
    hashedPasswordFile = opt (types.nullOr types.str) null;
    home = opt (types.passwdEntry types.path) "/var/empty";
    homeMode = opt (types.strMatching "[0-7]{1,5}") "700";
    ignoreShellProgramCheck = bool false;
    initialHashedPassword = opt (types.nullOr passwdStr) null;
    initialPassword = opt (types.nullOr types.str) null;
    isNormalUser = bool false;
    isSystemUser = bool false;
    linger = opt (types.nullOr types.bool) null;
    name = opt passwdStr name;
    packages = opt (types.listOf types.package) [ ];
    pamMount = opt (types.attrsOf types.str) { };
    password = opt (types.nullOr types.str) null;
    passwordFile = opt (types.nullOr types.str) null;
    shell = opt (types.nullOr (types.either types.shellPackage (types.passwdEntry types.path))) pkgs.shadow;
    subGidRanges = opt (types.listOf types.attrs) [ ];
    subUidRanges = opt (types.listOf types.attrs) [ ];
    uid = opt (types.nullOr types.int) null;
    useDefaultShell = bool false;
    # nixos/modules/services/networking/ssh/sshd.nix
    openssh.authorizedKeys = {
      keys = strList;
      keyFiles = opt (types.listOf types.path) [ ];
    };
    openssh.authorizedPrincipals = strList;
  };
  groupDecls = name: {
    gid = opt (types.nullOr types.int) null;
    members = opt (types.listOf passwdStr) [ ];
    name = opt passwdStr name;
  };

  # nixpkgs' default list (Debian lacks some of these samples; the stand-in skips those).
  defaultConfFiles = [ "ari.conf" "acl.conf" "agents.conf" "amd.conf" "calendar.conf" "cdr.conf"
    "cdr_syslog.conf" "cdr_custom.conf" "cel.conf" "cel_custom.conf" "cli_aliases.conf"
    "confbridge.conf" "dundi.conf" "features.conf" "hep.conf" "iax.conf" "pjsip.conf"
    "pjsip_wizard.conf" "phone.conf" "phoneprov.conf" "queues.conf" "res_config_sqlite3.conf"
    "res_parking.conf" "statsd.conf" "udptl.conf" "unistim.conf" ];
  asteriskDecls = {
    enable = bool false;
    package = opt types.package pkgs.asterisk;
    confFiles = opt (types.attrsOf types.str) { };
    extraConfig = lines;
    extraArguments = strList;
    useTheseDefaultConfFiles = opt (types.listOf types.str) defaultConfFiles;
  };

  # nixos/modules/services/security/fail2ban.nix
  f2b = config.services.fail2ban;
  nullStr = opt (types.nullOr types.str) null;
  # mkRemovedOptionModule: declared, so not "does not exist"; any definition fails the
  # assertion below (the value is the list of files that define it).
  removedOption = mkOption { type = types.mkOptionType { name = "removed";
    merge = loc: defs: map (d: d.file) defs; }; };
  fail2banDecls = {
    enable = bool false;
    package = opt types.package pkgs.fail2ban;
    packageFirewall = opt types.package fw.package;
    extraPackages = opt (types.listOf types.package) [ ];
    bantime = opt types.str "10m";
    maxretry = opt types.ints.unsigned 3;
    banaction = opt types.str (if nft.enable then "nftables-multiport" else "iptables-multiport");
    banaction-allports = opt types.str (if nft.enable then "nftables-allports" else "iptables-allports");
    bantime-increment = {
      enable = bool false;
      rndtime = nullStr;
      maxtime = nullStr;
      factor = nullStr;
      formula = nullStr;
      multipliers = nullStr;
      overalljails = opt (types.nullOr types.bool) null;
    };
    ignoreIP = strList;
    # no default: the module defines its Definition keys with mkDefault when enabled
    daemonSettings = mkOption { type = iniType; };
    jails = opt (types.attrsOf (types.either types.lines (types.submoduleDecls (name: {
      enabled = mkOption { type = types.bool; default = true; readOnly = name == "DEFAULT"; };
      filter = opt (types.nullOr (types.either types.str iniType)) null;
      settings = opt (pkgs.formats.keyValue { }).type { };
    })))) { };
    actions = opt (types.attrsOf iniType) { };
    filters = opt (types.attrsOf iniType) { };
    daemonConfig = removedOption;
    extraSettings = removedOption;
  };

  # nix-flakes.nix: a flake reference (attributes of strings, integers, Booleans, paths)
  flakeReference = types.attrsOf (types.oneOf [ types.str types.int types.bool types.path types.package ]);

  # nixos/modules/system/etc/etc.nix: environment.etc.<name>
  etcDecls = name: {
    enable = bool true;
    target = opt types.str name;
    text = opt (types.nullOr types.lines) null;
    source = mkOption { type = types.path; };
    mode = opt types.str "symlink";
    uid = opt types.int 0;
    gid = opt types.int 0;
    user = mkOption { type = types.str; };   # default "+<uid>", applied in `result`
    group = mkOption { type = types.str; };  # default "+<gid>"
  };

  # config/sysctl.nix: a value is a bool, string or integer (null: not written); every
  # definition must agree, except net.core.rmem_max and net.core.wmem_max, where the highest
  # wins (nullOr highestValueType)
  sysctlOption = types.mkOptionType { name = "sysctl option value"; description = "sysctl option value";
    check = v: b.isBool v || b.isString v || b.isInt v || v == null;
    merge = types.equal; };
  highestValue = types.nullOr (types.ints.unsigned // {
    merge = _: defs: b.foldl' (a: d: libBase.max a d.value) 0 defs; });
  sysctlDecls = {
    _freeform = sysctlOption;
    "net.core.rmem_max" = opt highestValue null;
    "net.core.wmem_max" = opt highestValue null;
  };

  decls = {
    _open = true;
    services = { _open = true; asterisk = asteriskDecls; fail2ban = fail2banDecls;
                 firewalld = firewalldDecls; };
    environment = {
      _open = true;
      etc = opt (types.attrsOf (types.submoduleDecls etcDecls)) { };
    };
    boot = {
      _open = true;
      kernel = {
        _open = true;
        sysctl = opt (types.submoduleDecls (_: sysctlDecls)) { };
      };
    };
    networking = {
      _open = true;
      firewall = firewallDecls;
      nftables = nftablesDecls;
      enableIPv6 = bool true;
    };
    systemd = {
      _open = true;
      services = opt (types.attrsOf (types.submoduleDecls serviceDecls)) { };
      packages = opt (types.listOf types.package) [ ];
    };
    # misc/version.nix and label.nix (system.nixos.* has more options, accepted and ignored)
    system = {
      _open = true;
      nixos = {
        _open = true;
        release = opt types.str versionInfo.release // { readOnly = true; };
        codeName = opt types.str versionInfo.codeName // { readOnly = true; };
        versionSuffix = opt types.str versionInfo.versionSuffix;
        revision = opt (types.nullOr types.str) versionInfo.revision;
        version = opt types.str (config.system.nixos.release + config.system.nixos.versionSuffix);
        tags = strList;
        label = opt (types.strMatching "[a-zA-Z0-9:_\\.-]*") (concatStringsSep "-"
          (b.sort b.lessThan config.system.nixos.tags ++ [ config.system.nixos.version ]));
      };
      configurationRevision = opt (types.nullOr types.str) null;
    };
    # config/nix.nix, nix-channel.nix, nix-flakes.nix (nix.* has more options, accepted and
    # ignored) and misc/nixpkgs-flake.nix
    nix = {
      _open = true;
      enable = bool true;
      channel.enable = bool true;
      nixPath = opt (types.listOf types.str) (if config.nix.channel.enable then [
        "nixpkgs=/nix/var/nix/profiles/per-user/root/channels/nixos"
        "nixos-config=/etc/nixos/configuration.nix"
        "/nix/var/nix/profiles/per-user/root/channels"
      ] else [ ]);
      registry = opt (types.attrsOf (types.submoduleDecls (name: {
        from = opt flakeReference { type = "indirect"; id = name; };
        to = mkOption { type = flakeReference; };  # default: from `flake`, below
        flake = opt (types.nullOr types.attrs) null;
        exact = bool true;
      }))) { };
    };
    nixpkgs = {
      _open = true;
      flake = {
        source = opt (types.nullOr (types.either types.str types.path)) null;
        setNixPath = bool (config.nixpkgs.flake.source != null);
        setFlakeRegistry = bool (config.nixpkgs.flake.source != null);
      };
    };
    users = {
      _open = true;
      _aliases = { extraUsers = "users"; extraGroups = "groups"; };
      users = opt (types.attrsOf (types.submoduleDecls userDecls)) { };
      groups = opt (types.attrsOf (types.submoduleDecls groupDecls)) { };
      mutableUsers = bool true;
      allowNoPasswordLogin = bool false;
      enforceIdUniqueness = bool true;
      defaultUserHome = opt types.str "/home";
      defaultUserShell = opt (types.either types.path types.shellPackage) pkgs.bash;
      manageLingering = bool true;
    };
  };

  # --- the config NixOS's own modules contribute ------------------------------------------
  standinModules = [
    # config/sysctl.nix: the file systemd-sysctl applies (at boot, and on a switch that
    # changes it: restartTriggers), and NixOS's own defaults
    (standinItem "<nixpkgs>/nixos/modules/config/sysctl.nix" {
      environment.etc."sysctl.d/60-nixos.conf".text = concatStringsSep "" (libBase.mapAttrsToList
        (n: v: if v == null then "" else "${n}=${if v == false then "0" else toString v}\n")
        config.boot.kernel.sysctl);
      boot.kernel.sysctl."kernel.kptr_restrict" = libBase.mkDefault 1;
      boot.kernel.sysctl."vm.max_map_count" = libBase.mkDefault 1048576;
    })
    # config/nix-channel.nix: NIX_PATH for every session (pam_env), from nix.nixPath
    (standinItem "<nixpkgs>/nixos/modules/config/nix-channel.nix" (mkIf config.nix.enable {
      environment.sessionVariables.NIX_PATH = config.nix.nixPath;
    }))
    # config/nix-flakes.nix: the system-wide flake registry
    (standinItem "<nixpkgs>/nixos/modules/config/nix-flakes.nix" (mkIf config.nix.enable {
      environment.etc."nix/registry.json".text = b.toJSON {
        version = 2;
        flakes = libBase.mapAttrsToList (n: v: {
          inherit (v) from exact;
          to = v.to or (if v.flake != null
            then { type = "path"; path = v.flake.outPath; } // filterAttrs
              (k: _: b.elem k [ "lastModified" "rev" "revCount" "narHash" ]) v.flake
            else b.throw "The option `nix.registry.${showPart n}.to' is used but not defined.");
        }) config.nix.registry;
      };
    }))
    # misc/nixpkgs-flake.nix: a system from lib.nixosSystem (nixpkgs.flake.source set) gets
    # NIX_PATH "nixpkgs=flake:nixpkgs" (no nixos-config) and nixpkgs pinned in the registry
    (standinItem "<nixpkgs>/nixos/modules/misc/nixpkgs-flake.nix"
      (let cfg = config.nixpkgs.flake; in mkIf (cfg.source != null) (mkMerge [
        { assertions = [ { assertion = cfg.setNixPath -> cfg.setFlakeRegistry;
            message = ''
              Setting `nixpkgs.flake.setNixPath` requires that `nixpkgs.flake.setFlakeRegistry` also
              be set, since it is implemented in terms of indirection through the flake registry.
            ''; } ]; }
        (mkIf cfg.setFlakeRegistry {
          nix.registry.nixpkgs.to = mkDefault { type = "path"; path = cfg.source; };
        })
        (mkIf cfg.setNixPath {
          nix.nixPath = mkDefault ([ "nixpkgs=flake:nixpkgs" ]
            ++ optional config.nix.channel.enable "/nix/var/nix/profiles/per-user/root/channels");
        })
      ])))
    # services/networking/asterisk.nix (config = mkIf cfg.enable { ... })
    (standinItem "<nixpkgs>/nixos/modules/services/networking/asterisk.nix"
      (let cfg = config.services.asterisk; in mkIf cfg.enable {
        systemd.services.asterisk = {
          description = "Asterisk PBX server\n";
          # nixpkgs' preStart (runs as root before ExecStart), in the stand-in's words: a state
          # directory that does not exist yet gets the package's skeleton (sounds, moh, ... for
          # /var/lib/asterisk), owned by asterisk, directories 0755; one that exists, even
          # empty, is left as it is.
          preStart = ''
            for state in /var/lib/asterisk /var/spool/asterisk /var/log/asterisk; do
              if [ -e "$state" ]; then continue; fi
              mkdir -p "$state"
              cp -R ${cfg.package}"$state"/* "$state"/
              chown -R asterisk:asterisk "$state"
              find "$state" -type d -exec chmod 0755 {} +
            done
          '';
          # Do not restart, to avoid disruption of running calls. Restart unit by yourself!
          restartIfChanged = false;
          serviceConfig = {
            # Lab: Debian's binary (nixpkgs: ${cfg.package}/bin/asterisk).
            ExecReload = "/usr/sbin/asterisk -C /etc/asterisk/asterisk.conf -x \"core reload\"\n";
            ExecStart = "/usr/sbin/asterisk -U asterisk -C /etc/asterisk/asterisk.conf ${concatStringsSep " " cfg.extraArguments} -F";
            PIDFile = "/run/asterisk/asterisk.pid";
            Type = "forking";
          };
          wantedBy = [ "multi-user.target" ];
        };
        # misc/ids.nix: ids.uids.asterisk = ids.gids.asterisk = 192
        users.groups.asterisk = { gid = 192; name = "asterisk"; };
        users.users.asterisk = {
          description = "Asterisk daemon user";
          group = "asterisk";
          home = "/var/lib/asterisk";
          name = "asterisk";
          uid = 192;
        };
      }))
    # services/networking/firewall.nix, firewall-iptables.nix, firewall-nftables.nix
    (standinItem "<nixpkgs>/nixos/modules/services/networking/firewall.nix" (mkIf fw.enable {
      networking.firewall.trustedInterfaces = [ "lo" ];
      networking.firewall.filterOutput.trustedInterfaces = [ "lo" ];
      assertions = [
        { assertion = fw.filterForward -> nft.enable;
          message = "filterForward only works with the nftables based firewall"; }
        { assertion = fw.filterOutput.enabled -> nft.enable;
          message = "filterOutput.enabled only works with the nftables based firewall"; }
        { assertion = !fw.autoLoadConntrackHelpers;  # the lab's kernel is 6.x
          message = "conntrack helper autoloading has been removed from kernel 6.0 and newer"; }
      ] ++ optionals (fw.backend == "nftables") [
        { assertion = fw.extraCommands == "";
          message = "extraCommands is incompatible with the nftables based firewall: ${fw.extraCommands}"; }
        { assertion = fw.extraStopCommands == "";
          message = "extraStopCommands is incompatible with the nftables based firewall: ${fw.extraStopCommands}"; }
        { assertion = fw.pingLimit == null || !(libBase.hasPrefix "--" fw.pingLimit);
          message = "nftables syntax like \"2/second\" should be used in networking.firewall.pingLimit"; }
        { assertion = nft.rulesetFile == null;
          message = "networking.nftables.rulesetFile conflicts with the firewall"; }
      ];
    }))
    # services/networking/firewall-firewalld.nix: the firewall's options as firewalld settings
    # and zones (nixos-rebuild refuses to build a configuration that enables firewalld)
    (standinItem "<nixpkgs>/nixos/modules/services/networking/firewall-firewalld.nix"
      (mkIf (fw.enable && fw.backend == "firewalld") {
        assertions = [
          { assertion = fw.interfaces == { };
            message = ''
              Per interface configurations is not supported with the firewalld based firewall.
              Create zones with `services.firewalld.zones` instead.
            ''; }
        ];
        services.firewalld = {
          settings = {
            DefaultZone = mkDefault "nixos-fw-default";
            LogDenied = if fw.logRefusedConnections
              then (if fw.logRefusedUnicastsOnly then "unicast" else "all") else "off";
            IPv6_rpfilter = if fw.checkReversePath == false then "no"
              else (if fw.checkReversePath == true then "strict" else fw.checkReversePath)
                + (if fw.filterForward then "" else "-forward");
          };
          zones = {
            nixos-fw-default = {
              target = if fw.rejectPackets then "%%REJECT%%" else "DROP";
              icmpBlockInversion = true;
              icmpBlocks = mkIf fw.allowPing [ "echo-request" ];
              ports = map (port: { protocol = "tcp"; inherit port; }) (fw.allowedTCPPorts ++ fw.allowedTCPPortRanges)
                ++ map (port: { protocol = "udp"; inherit port; }) (fw.allowedUDPPorts ++ fw.allowedUDPPortRanges);
            };
            trusted.interfaces = fw.trustedInterfaces;
          };
        };
      }))
    # services/networking/firewalld/zone.nix and settings.nix (config = mkIf cfg.enable)
    (standinItem "<nixpkgs>/nixos/modules/services/networking/firewalld/default.nix" (mkIf fwd.enable {
      services.firewalld.zones = {
        drop = { target = "DROP"; forward = true; };
        block = { forward = true; };
        trusted = { target = "ACCEPT"; forward = true; };
      };
      assertions = [
        { assertion = fwd.settings.FirewallBackend == "nftables" -> nft.enable;
          message = ''
            FirewallD uses nftables as the firewall backend (by default), but nftables support isn't enabled.
            Please read the description of networking.nftables.enable for possible problems.
            If using nftables is not desired, set services.firewalld.settings.FirewallBackend to "iptables", but be aware that FirewallD has deprecated support for it, and will override firewall rule set by other services, if any.
          ''; }
      ];
    }))
    # services/networking/nftables.nix
    (standinItem "<nixpkgs>/nixos/modules/services/networking/nftables.nix" (mkIf nft.enable {
      networking.nftables.flushRuleset = mkDefault (
        libBase.versionOlder stateVersion "23.11" || (nft.rulesetFile != null || nft.ruleset != ""));
    }))
    # services/networking/ssh/sshd.nix: openFirewall (default true) opens `ports` (default
    # [ 22 ]); services.openssh is otherwise not declared (the lab's sshd is its own)
    (standinItem "<nixpkgs>/nixos/modules/services/networking/ssh/sshd.nix"
      (let ssh = config.services.openssh or { }; in
       mkIf ((ssh.enable or false) && (ssh.openFirewall or true)) {
         networking.firewall.allowedTCPPorts = ssh.ports or [ 22 ];
       }))
    # services/security/fail2ban.nix, as in nixpkgs (the lab's deviations are marked "Lab:")
    (standinItem "<nixpkgs>/nixos/modules/services/security/fail2ban.nix" (let
      cfg = f2b;
      inherit (libBase) optionalAttrs optionalString nameValuePair mapAttrs';
      configFormat = pkgs.formats.ini { mkKeyValue = libBase.generators.mkKeyValueDefault { } " = "; };
      mkInlineFilterName = name: "nixos-${name}";
      mkJailConfig = name: attrs:
        optionalAttrs (name != "DEFAULT") { inherit (attrs) enabled; }
        // optionalAttrs (attrs.filter != null) {
          filter = if b.isString attrs.filter then attrs.filter else mkInlineFilterName name;
        }
        // attrs.settings;
      # Lab: there is no syslog daemon (and so no /dev/log, without which fail2ban refuses
      # to start): logtarget SYSLOG is written as STDOUT, the unit's log (journalctl -u
      # fail2ban), with a comment saying so. Any other logtarget is written as given.
      labSyslog = (cfg.daemonSettings.Definition.logtarget or null) == "SYSLOG";
      fail2banConf = if !labSyslog then configFormat.generate "fail2ban.local" cfg.daemonSettings
        else pkgs.writeText "fail2ban.local" ("# televoc lab: logtarget = SYSLOG on NixOS; no syslog daemon here\n"
          + libBase.generators.toINI { mkKeyValue = libBase.generators.mkKeyValueDefault { } " = "; }
              (cfg.daemonSettings // { Definition = cfg.daemonSettings.Definition // { logtarget = "STDOUT"; }; }));
      strJails = filterAttrs (_: b.isString) cfg.jails;
      attrsJails = filterAttrs (_: b.isAttrs) cfg.jails;
      jailConf = let
        configFile = configFormat.generate "jail.local"
          ({ INCLUDES.before = "paths-nixos.conf"; } // (mapAttrs mkJailConfig attrsJails));
        extraConfig = concatStringsSep "\n" (b.attrValues (mapAttrs (name: def:
          optionalString (def != "") "[${name}]\n${def}\n") strJails));
      in pkgs.concatText "jail.local" [ configFile (pkgs.writeText "extra-jail.local" extraConfig) ];
      pathsConf = pkgs.writeText "paths-nixos.conf" ''
        # NixOS

        [INCLUDES]

        before = paths-common.conf

        after  = paths-overrides.local

        [DEFAULT]
      '';
      mkLocal = type: name: attrs: nameValuePair "fail2ban/${type}.d/${name}.local" {
        source = configFormat.generate "${type}.d/${name}.local" attrs;
      };
      mkInlineFilter = name: attrs: mkLocal "filter" (mkInlineFilterName name) attrs.filter;
      inlineFilters = mapAttrs' mkInlineFilter
        (filterAttrs (_: v: v.filter != null && !b.isString v.filter) attrsJails);
      explicitFilters = mapAttrs' (mkLocal "filter") cfg.filters;
      explicitActions = mapAttrs' (mkLocal "action") cfg.actions;
      generatedFiles = etcEntries: map (entry: entry.source) (b.attrValues etcEntries);
      removed = name: text: {
        assertion = !(cfg ? ${name});
        message = "The option definition `services.fail2ban.${name}' in ${concatMapStringsSep " and " (f: "`${f}'") (cfg.${name} or [ ])} no longer has any effect; please remove it.\n${text}";
      };
      ssh = config.services.openssh or { };
    in mkMerge [
      # imports = [ (mkRemovedOptionModule ...) ... ]
      { assertions = [
          (removed "daemonConfig" "The daemon is now configured through the attribute set `services.fail2ban.daemonSettings`.")
          (removed "extraSettings" "The extra default configuration can now be set using `services.fail2ban.jails.DEFAULT.settings`.")
        ]; }
      (mkIf cfg.enable {
        assertions = [
          { assertion = cfg.bantime-increment.formula == null || cfg.bantime-increment.multipliers == null;
            message = ''
              Options `services.fail2ban.bantime-increment.formula` and `services.fail2ban.bantime-increment.multipliers` cannot be both specified.
            ''; }
        ];
        warnings = mkIf (!fw.enable && !nft.enable) [ "fail2ban can not be used without a firewall" ];
        environment.systemPackages = [ cfg.package ];
        environment.etc = mkMerge [
          {
            "fail2ban/fail2ban.conf".source = "${cfg.package}/etc/fail2ban/fail2ban.conf";
            "fail2ban/fail2ban.local".source = fail2banConf;
            "fail2ban/jail.conf".source = "${cfg.package}/etc/fail2ban/jail.conf";
            "fail2ban/jail.local".source = jailConf;
            "fail2ban/paths-common.conf".source = "${cfg.package}/etc/fail2ban/paths-common.conf";
            "fail2ban/paths-nixos.conf".source = pathsConf;
            "fail2ban/action.d".source = "${cfg.package}/etc/fail2ban/action.d/*.conf";
            "fail2ban/filter.d".source = "${cfg.package}/etc/fail2ban/filter.d/*.conf";
          }
          inlineFilters
          explicitFilters
          explicitActions
        ];
        systemd.packages = [ cfg.package ];
        systemd.services.fail2ban = {
          wantedBy = [ "multi-user.target" ];
          partOf = optional fw.enable "firewall.service";
          restartTriggers = [ fail2banConf jailConf pathsConf ]
            ++ generatedFiles inlineFilters ++ generatedFiles explicitFilters
            ++ generatedFiles explicitActions;
          path = [ cfg.package cfg.packageFirewall pkgs.iproute2 ] ++ cfg.extraPackages;
          serviceConfig = {
            CapabilityBoundingSet = [ "CAP_AUDIT_READ" "CAP_DAC_READ_SEARCH" "CAP_NET_ADMIN" "CAP_NET_RAW" ];
            NoNewPrivileges = true;
            RuntimeDirectoryMode = "0755";
            StateDirectoryMode = "0750";
            ProtectSystem = "strict";
            ProtectHome = true;
            PrivateTmp = true;
            PrivateDevices = true;
            ProtectHostname = true;
            ProtectKernelTunables = true;
            ProtectKernelModules = true;
            ProtectControlGroups = true;
          };
        };
        # Lab: systemd.sockets is not simulated (undeclared, so ignored); without an
        # inherited socket fail2ban-server makes /run/fail2ban/fail2ban.sock itself (root's).
        systemd.sockets.fail2ban = {
          wantedBy = [ "sockets.target" "fail2ban.service" ];
          listenStreams = [ "" cfg.daemonSettings.Definition.socket ];
          socketConfig = { SocketGroup = "fail2ban"; SocketMode = "0660"; };
        };
        users.groups.fail2ban = { };
        services.fail2ban.daemonSettings.Definition = {
          logtarget = mkDefault "SYSLOG";
          socket = mkDefault "/run/fail2ban/fail2ban.sock";
          pidfile = mkDefault "/run/fail2ban/fail2ban.pid";
          dbfile = mkDefault "/var/lib/fail2ban/fail2ban.sqlite3";
        };
        services.fail2ban.jails = mkMerge [
          {
            DEFAULT.settings =
              (optionalAttrs cfg.bantime-increment.enable (
                { "bantime.increment" = cfg.bantime-increment.enable; }
                // (mapAttrs' (name: nameValuePair "bantime.${name}")
                  (filterAttrs (n: v: v != null && n != "enable") cfg.bantime-increment))
              ))
              // {
                inherit (cfg) banaction maxretry bantime;
                ignoreip = "127.0.0.1/8 ${optionalString config.networking.enableIPv6 "::1"} ${concatStringsSep " " cfg.ignoreIP}";
                backend = "systemd";
                banaction_allports = cfg.banaction-allports;
              };
          }
          # services.openssh is not declared in the lab: `or` stands in for its defaults
          (mkIf (ssh.enable or false) {
            sshd.settings.port = mkDefault (concatMapStringsSep "," toString (ssh.ports or [ 22 ]));
          })
        ];
        services.openssh.settings.LogLevel = mkDefault "VERBOSE";
      })
    ]))
    # config/users-groups.nix
    (standinItem "<nixpkgs>/nixos/modules/config/users-groups.nix" {
      # with their static gids from misc/ids.nix (clock: none there, so allocated)
      users.groups = mapAttrs (_: gid: { inherit gid; }) {
        root = 0; wheel = 1; kmem = 2; tty = 3; disk = 6; audio = 17; floppy = 18; uucp = 19;
        lp = 20; cdrom = 24; tape = 25; video = 26; dialout = 27; utmp = 29; adm = 55;
        users = 100; input = 174; kvm = 302; render = 303; sgx = 304; shadow = 318;
        nixbld = 30000; nogroup = 65534; clock = null; };
      users.users = {
        nobody = { description = "Unprivileged account (don't use!)"; group = "nogroup";
                   isSystemUser = true; uid = 65534; };
        root = { description = "System administrator"; group = "root"; home = "/root";
                 shell = mkDefault config.users.defaultUserShell; uid = 0; };
      };
      assertions = let
        cfg = config.users;
        groupNames = libBase.mapAttrsToList (n: g: g.name) cfg.groups;
        without = filterAttrs (n: u: u.group != "" && !(b.elem u.group groupNames)) cfg.users;
        # idsAreUnique: no two declared users (groups) with the same uid (gid)
        unique' = idAttr: set: let ids = map (x: x.${idAttr}) (filter (x: x.${idAttr} != null) (b.attrValues set));
          in b.length ids == b.length (unique ids);
      in [
        { assertion = !cfg.enforceIdUniqueness || (unique' "uid" cfg.users && unique' "gid" cfg.groups);
          message = "UIDs and GIDs must be unique!"; }
        { assertion = without == { };
          message = ''
            The following users have a primary group that is undefined: ${concatStringsSep " " (attrNames without)}
            Hint: Add this to your NixOS configuration:
              ${concatStringsSep "\n  " (map (g: "users.groups.${g} = {};") (unique (libBase.mapAttrsToList (n: u: u.group) without)))}
          ''; }
      ] ++ concatMap (user: [
        { assertion = b.match "[a-zA-Z0-9_.][a-zA-Z0-9_.-]*" user.name != null;
          message = "The username \"${user.name}\" is not valid, it does not match the regex \"[a-zA-Z0-9_.][a-zA-Z0-9_.-]*\"."; }
        { assertion = user.hashedPassword != null -> b.match ".*:.*" user.hashedPassword == null;
          message = ''
            The password hash of user "${user.name}" contains a ":" character.
            This is invalid and would break the login system because the fields
            of /etc/shadow (file where hashes are stored) are colon-separated.
            Please check the value of option `users.users."${user.name}".hashedPassword`.''; }
        { assertion = user.isNormalUser && user.uid != null -> user.uid >= 1000;
          message = ''
            A user cannot have a users.users.${user.name}.uid set below 1000 and set users.users.${user.name}.isNormalUser.
            Either users.users.${user.name}.isSystemUser must be set to true instead of users.users.${user.name}.isNormalUser
            or users.users.${user.name}.uid must be changed to 1000 or above.
          ''; }
        { assertion = libBase.xor
            (user.isSystemUser || (user.uid != null && user.uid < 1000 && !user.isNormalUser))
            user.isNormalUser;
          message = ''
            Exactly one of users.users.${user.name}.isSystemUser and users.users.${user.name}.isNormalUser must be set.
          ''; }
        { assertion = user.group != "";
          message = ''
            users.users.${user.name}.group is unset. This used to default to
            nogroup, but this is unsafe. For example you can create a group
            for this user with:
            users.users.${user.name}.group = "${user.name}";
            users.groups.${user.name} = {};
          ''; }
      ]) (b.attrValues cfg.users);
    })
  ];

  # --- the configuration ---------------------------------------------------------------
  config = mergeNode [ ] decls (concatMap (m: [
    { inherit (m) file; value = m.config; }
    { inherit (m) file; value = optionDefaults m.options; }
  ]) modules);

  stateVersion = let v = b.tryEval (config.system.stateVersion or "25.11"); in
    if v.success && b.isString v.value then v.value else "25.11";
  tryOr = default: x: let r = b.tryEval x; in if r.success then r.value else default;
  assertions = config.assertions or [ ];
  failed = map (a: a.message) (filter (a: !a.assertion) assertions);
  warnings = tryOr [ ] (config.warnings or [ ]);
  cfg = config.services.asterisk;
  usersCfg = config.users;
  # users-groups.nix's isNormalUser defaults (its submodule config): group "users",
  # createHome, home /home/<name> unless set otherwise (approximated: when left at the
  # option default).
  # users-groups.nix's toShellPath: a shell package's shellPath (Debian's /usr here)
  shellOf = s: if libBase.isDerivation s then "${s}${s.shellPath or "/bin/${s.name}"}" else s;
  normalUser = u': let u = u' // { shell = shellOf u'.shell; }; in if !u.isNormalUser then u else u // {
    group = if u.group == "" then "users" else u.group;
    home = if u.home == "/var/empty" then "${usersCfg.defaultUserHome}/${u.name}" else u.home;
    createHome = true;
  };
  result = {
    asterisk = cfg // {
      package = if b.isString cfg.package || b.isPath cfg.package || cfg.package ? outPath
                then toString cfg.package else null;
    };
    hostName = let h = config.networking.hostName or null; in if b.isString h then h else null;
    inherit stateVersion;
    enableIPv6 = config.networking.enableIPv6;
    firewall = fw;
    nftables = nft;
    firewalld = fwd;
    services = config.systemd.services;
    users = b.mapAttrs (_: normalUser) (filterAttrs (_: u: u.enable) usersCfg.users);
    # users-groups.nix's groupOpts: a group's members are also the enabled users that name
    # it in extraGroups
    groups = mapAttrs (_: g: g // { members = unique (g.members ++ libBase.mapAttrsToList (_: u: u.name)
      (filterAttrs (_: u: u.enable && b.elem g.name u.extraGroups) usersCfg.users)); }) usersCfg.groups;
    mutableUsers = usersCfg.mutableUsers;
    # environment.etc (etc.nix): the enabled entries; `text` becomes a store file as
    # pkgs.writeText "etc-<name>" would make it
    etc = mapAttrs (n: e: {
      inherit (e) target mode;
      user = e.user or "+${toString e.uid}";
      group = e.group or "+${toString e.gid}";
      source =
        if e.text != null then
          (if e ? source then b.throw "The option `environment.etc.${showPart n}.source' has conflicting definition values: it is set and so is `text'."
           else pkgs.writeText ("etc-" + b.replaceStrings [ "/" ] [ "-" ] n) e.text)
        else e.source or (b.throw "The option `environment.etc.${showPart n}.source' is used but not defined.");
    }) (filterAttrs (_: e: e.enable) config.environment.etc);
    systemdPackages = map toString config.systemd.packages;
    # misc/version.nix, tools.nix's nixos-version: what the generation records of itself
    nixos = {
      inherit (config.system.nixos) release codeName versionSuffix revision version label;
      inherit (config.system) configurationRevision;
    };
    # NIX_PATH as pam_env gives it to every session (a list joined by ":"), null: not set
    nixPath = let v = config.environment.sessionVariables.NIX_PATH or null; in
      if v == null then null else if b.isList v then concatStringsSep ":" (map toString v) else toString v;
    # services.fail2ban's definitions are checked (types, unknown options) even when
    # nothing reads them, as NixOS checks every definition; daemonSettings has a value
    # only when enabled
    fail2banChecked = b.deepSeq (b.removeAttrs f2b [ "daemonSettings" "daemonConfig" "extraSettings" ])
      (b.deepSeq (if f2b.enable then f2b.daemonSettings else null) true);
  };
  checked =
    if failed != [ ] then b.throw "\nFailed assertions:\n${concatMapStringsSep "\n" (m: "- ${m}") failed}"
    else b.foldl' (r: w: b.trace "evaluation warning: ${w}" r) result warnings;
  # config, with system.build.toplevel: what `<nixpkgs/nixos>` and lib.nixosSystem give
  systemConfig = config // {
    system = config.system // { build = (config.system.build or { }) // { toplevel = checked; }; };
  };
in
  if withConfig then { config = systemConfig; inherit pkgs; } else checked
