# eval-config.nix: the lab's stand-in for NixOS's module system (tests only).
#
#   nix-instantiate --eval --strict --json eval-config.nix \
#       --arg configuration /etc/nixos/configuration.nix
#
# prints { "asterisk": <services.asterisk, defaults applied>, "hostName": ... } as JSON.
#
# Implemented (the part of the NixOS module system a hand-written config uses):
#  - modules are paths, functions `{ config, lib, pkgs, ... }: { ... }` or attrsets; `imports`
#    (recursive, deduplicated by path); explicit `options`/`config` or a bare config attrset;
#  - definitions merged across modules: attrsets recursively, lists concatenated, anything
#    else must be equal ("conflicting definition values" otherwise);
#  - lib.mkIf / mkMerge / mkOverride / mkDefault / mkForce / mkOptionDefault / mkBefore /
#    mkAfter, pushed down through attrsets without evaluating conditions, so
#    `config = lib.mkIf config.services.x.enable { ... }` works as in NixOS;
#  - `config` is the lazy fixpoint of the merge;
#  - services.asterisk is declared with nixpkgs' options and types (enable, package,
#    confFiles, extraConfig, extraArguments, useTheseDefaultConfFiles); any other attribute
#    under it is "The option `services.asterisk.X' does not exist.";
#  - `assertions` / `warnings` as in NixOS.
# Not implemented: nixpkgs itself (`pkgs` is a stub: pkgs.asterisk is a string), option
# types of user-declared options (declared defaults are honoured, types are not checked),
# submodules, freeformType, disabledModules, _module.args, specialArgs. Every other
# top-level option (networking.*, boot.*, users.*, ...) is accepted and ignored; only the
# parts forced by the output (services.asterisk, networking.hostName, assertions) are
# checked, so an error hidden in an ignored option goes unnoticed here.
{ configuration ? /etc/nixos/configuration.nix }:
let
  b = builtins;

  libBase = rec {
    # --- properties --------------------------------------------------------------------
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkOverride = priority: content: { _type = "override"; inherit priority content; };
    mkOptionDefault = mkOverride 1500;
    mkDefault = mkOverride 1000;
    mkForce = mkOverride 50;
    mkOrder = priority: content: { _type = "order"; inherit priority content; };
    mkBefore = mkOrder 500;
    mkAfter = mkOrder 1500;
    # --- option declarations (types are placeholders: not checked) ----------------------
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption = name: mkOption { type = types.bool; default = false; description = "Whether to enable ${name}."; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    literalExample = literalExpression;
    mdDoc = x: x;
    types = let t = name: { _type = "option-type"; inherit name; }; in {
      bool = t "bool"; str = t "str"; lines = t "lines"; int = t "int"; port = t "port";
      path = t "path"; package = t "package"; attrs = t "attrs"; anything = t "anything";
      unspecified = t "unspecified"; nonEmptyStr = t "nonEmptyStr"; float = t "float";
      listOf = _: t "listOf"; attrsOf = _: t "attrsOf"; nullOr = _: t "nullOr";
      enum = _: t "enum"; either = _: _: t "either"; oneOf = _: t "oneOf";
      submodule = _: t "submodule"; separatedString = _: t "separatedString";
      ints = { positive = t "int"; unsigned = t "int"; between = _: _: t "int"; };
    };
    # --- trivial, lists ------------------------------------------------------------------
    inherit (b) all any attrNames attrValues concatLists concatMap concatStringsSep elem
      elemAt filter foldl' fromJSON functionArgs genList hasAttr head intersectAttrs isAttrs
      isBool isFunction isInt isList isPath isString length listToAttrs mapAttrs match
      pathExists readFile removeAttrs replaceStrings sort split stringLength substring tail
      toJSON toString trace typeOf;
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
  };
  lib = libBase // {
    strings = libBase; lists = libBase; attrsets = libBase; trivial = libBase;
    modules = libBase; options = libBase;
  };

  pkgs = {
    inherit lib;
    system = "x86_64-linux";
    # The lab runs Debian's Asterisk; the stand-in ignores this value.
    asterisk = "/nix/store/00000000000000000000000000000000-asterisk-lab-stub";
  };

  moduleArgs = {
    inherit config lib pkgs;
    options = { };
    modulesPath = "/televoc-lab-has-no-nixpkgs/nixos/modules";
  };

  inherit (libBase) concatMapStringsSep concatStringsSep filter concatMap attrNames head;

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
      (if libBase.isDerivation v then "<derivation>"
       else "{ ${concatMapStringsSep " " (n: "${showPart n} = ${showValue v.${n}};") (attrNames v)} }")
    else "<function>";
  showDefs = defs: concatMapStringsSep "\n" (d: "- In `${d.file}': ${showValue d.value}") defs;
  conflict = loc: defs: b.throw ''
    The option `${showLoc loc}' has conflicting definition values:
    ${showDefs defs}
    Use `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.'';
  badType = loc: typeName: defs: b.throw ''
    A definition for option `${showLoc loc}' is not of type `${typeName}'. Definition values:
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

  # Each module once, found through `imports` (inline modules are keyed by their parent).
  item = parent: idx: m:
    let key = if isPathLike m then toString m else "${parent}:anon-${toString idx}";
    in { inherit key; mod = loadModule (if isPathLike m then key else parent) m; };
  # Declares services.asterisk, so that it exists (with its defaults) even when undefined.
  asteriskFile = "<nixpkgs>/nixos/modules/services/networking/asterisk.nix";
  asteriskDecl = { key = asteriskFile; mod = { file = asteriskFile; imports = [ ]; options = { };
                   config = { services.asterisk = { }; }; }; };
  modules = map (i: i.mod) (b.genericClosure {
    startSet = [ (item "<root>" 0 configuration) asteriskDecl ];
    operator = i: libBase.imap0 (item i.mod.file) i.mod.imports;
  });

  # Declared options contribute their defaults (priority 1500, as mkOptionDefault).
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

  mergeEqual = loc: defs:
    if defs == [ ] then b.throw "The option `${showLoc loc}' is used but not defined."
    else if b.all (d: d.value == (head defs).value) defs then (head defs).value
    else conflict loc defs;

  # Undeclared option: lists concatenate, everything else must agree.
  mergeFree = loc: defs:
    let ds = filterOverrides defs; in
    if ds != [ ] && b.all (d: b.isList d.value) ds then concatMap (d: d.value) (byOrder ds)
    else mergeEqual loc ds;

  # defs: [ { file; value; } ] for the option path `loc`.
  mergeAt = loc: defs:
    let nonEmpty = filter (d: kindOf d.value != "empty") defs; in
    if loc == [ "services" "asterisk" ] then mergeAsterisk loc nonEmpty
    else if nonEmpty != [ ] && b.all (d: kindOf d.value == "attrs") nonEmpty then mergeAttrs loc nonEmpty
    else mergeFree loc (concatMap (d: discharge loc d.file d.value) defs);

  pushedDefs = defs: concatMap
    (d: map (b.mapAttrs (_: v: { inherit (d) file; value = v; })) (pushDown d.value)) defs;
  mergeAttrs = loc: defs: b.zipAttrsWith (n: mergeAt (loc ++ [ n ])) (pushedDefs defs);

  # --- services.asterisk, declared as in nixpkgs -----------------------------------------
  leafDefs = loc: default: defs: filterOverrides (concatMap (d: discharge loc d.file d.value) defs
    ++ [ { file = asteriskFile; priority = 1500; order = 1000; value = default; } ]);
  checked = loc: typeName: check: defs:
    let bad = filter (d: !(check d.value)) defs; in
    if bad != [ ] then badType loc typeName bad else defs;
  strList = v: b.isList v && b.all b.isString v;
  asteriskOptions = {
    enable = loc: defs: mergeEqual loc (checked loc "boolean" b.isBool (leafDefs loc false defs));
    package = loc: defs: mergeEqual loc (leafDefs loc pkgs.asterisk defs);
    extraConfig = loc: defs: concatMapStringsSep "\n" (d: d.value)
      (byOrder (checked loc "strings concatenated with \"\\n\"" b.isString (leafDefs loc "" defs)));
    extraArguments = loc: defs: concatMap (d: d.value)
      (byOrder (checked loc "list of string" strList (leafDefs loc [ ] defs)));
    useTheseDefaultConfFiles = loc: defs: concatMap (d: d.value)
      (byOrder (checked loc "list of string" strList (leafDefs loc defaultConfFiles defs)));
    # attrsOf str: merged per file name; each file's definitions must agree.
    confFiles = loc: defs:
      let
        sets = checked loc "attribute set of string" b.isAttrs (leafDefs loc { } defs);
        perName = b.zipAttrsWith (n: ds: let l = loc ++ [ n ]; in
          filterOverrides (concatMap (d: discharge l d.file d.value) ds)) (pushedDefs sets);
      in b.mapAttrs (n: ds: mergeEqual (loc ++ [ n ]) (checked (loc ++ [ n ]) "string" b.isString ds))
           (libBase.filterAttrs (_: ds: ds != [ ]) perName);
  };
  # nixpkgs' default list (Debian lacks some of these samples; the stand-in skips those).
  defaultConfFiles = [ "ari.conf" "acl.conf" "agents.conf" "amd.conf" "calendar.conf" "cdr.conf"
    "cdr_syslog.conf" "cdr_custom.conf" "cel.conf" "cel_custom.conf" "cli_aliases.conf"
    "confbridge.conf" "dundi.conf" "features.conf" "hep.conf" "iax.conf" "pjsip.conf"
    "pjsip_wizard.conf" "phone.conf" "phoneprov.conf" "queues.conf" "res_config_sqlite3.conf"
    "res_parking.conf" "statsd.conf" "udptl.conf" "unistim.conf" ];

  mergeAsterisk = loc: defs:
    let
      notAttrs = filter (d: kindOf d.value != "attrs") defs;
      pushed = pushedDefs defs;
      names = libBase.unique (concatMap attrNames pushed);
      unknown = filter (n: !(asteriskOptions ? ${n})) names;
      defsOf = n: map (p: p.${n}) (filter (p: p ? ${n}) pushed);
    in
      if notAttrs != [ ] then badType loc "submodule" notAttrs
      else if unknown != [ ] then b.throw ''
        The option `${showLoc (loc ++ [ (head unknown) ])}' does not exist. Definition values:
        ${showDefs (defsOf (head unknown))}''
      else b.mapAttrs (n: merge: merge (loc ++ [ n ]) (defsOf n)) asteriskOptions;

  # --- the configuration ---------------------------------------------------------------
  config = mergeAt [ ] (concatMap (m: [
    { inherit (m) file; value = m.config; }
    { inherit (m) file; value = optionDefaults m.options; }
  ]) modules);

  tryOr = default: x: let r = b.tryEval x; in if r.success then r.value else default;
  assertions = tryOr [ ] (config.assertions or [ ]);
  failed = map (a: a.message) (filter (a: !a.assertion) assertions);
  warnings = tryOr [ ] (config.warnings or [ ]);
  cfg = config.services.asterisk;
  result = {
    asterisk = cfg // {
      package = if b.isString cfg.package || b.isPath cfg.package then toString cfg.package else null;
    };
    hostName = let h = config.networking.hostName or null; in if b.isString h then h else null;
  };
in
  if failed != [ ] then b.throw "\nFailed assertions:\n${concatMapStringsSep "\n" (m: "- ${m}") failed}"
  else b.foldl' (r: w: b.trace "evaluation warning: ${w}" r) result warnings
