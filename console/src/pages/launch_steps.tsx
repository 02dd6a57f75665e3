// The launch wizard's step panels, image to key pair: render functions over the wizard's state, apart from its logic.
import type { ComponentChildren } from "preact";
import type { SecurityGroup } from "@aws-sdk/client-ec2";
import { ErrorBox } from "../ui";
import { CreateKeyPairForm } from "./keypairs";
import { gib, gpuText, hourly, imageLabel, perHour, rootSize, type TagRow } from "./launch_data";
import type { Wizard } from "./launch_state";

function Option(props: {
  type: "radio" | "checkbox";
  name: string;
  value: string;
  checked: boolean;
  disabled?: boolean;
  onChange: () => void;
  children: ComponentChildren;
  class?: string;
}) {
  return (
    <label class={`lw-option ${props.checked ? "on" : ""} ${props.disabled ? "off" : ""} ${props.class ?? ""}`}>
      <input
        type={props.type}
        name={props.name}
        value={props.value}
        checked={props.checked}
        disabled={props.disabled}
        onChange={props.onChange}
      />
      <span class="lw-option-body">{props.children}</span>
    </label>
  );
}

function Loading({ what }: { what: string }) {
  return <p class="muted lw-loading">Loading {what}…</p>;
}

export function imageStep(w: Wizard) {
  const { images, imageId, setImageId, imageFilter, setImageFilter } = w;
  const f = imageFilter.trim().toLowerCase();
  const list = (images.data ?? []).filter(
    (i) => !f || `${i.Name} ${i.ImageId} ${i.Description} ${i.Architecture}`.toLowerCase().includes(f),
  );
  return (
    <>
      <p class="lw-lead">The operating system and software the instance starts from.</p>
      <ErrorBox error={images.error} />
      {!images.data ? (
        <Loading what="images" />
      ) : (
        <>
          {images.data.length > 5 && (
            <input
              class="lw-search"
              type="search"
              aria-label="Search images"
              placeholder="Search images"
              value={imageFilter}
              onInput={(e) => setImageFilter((e.target as HTMLInputElement).value)}
            />
          )}
          <fieldset class="lw-options">
            <legend class="sr-only">Image</legend>
            {list.length === 0 && <p class="muted">No image matches.</p>}
            {list.map((i) => {
              const avail = !i.State || i.State === "available";
              return (
                <Option
                  type="radio"
                  name="lw-image"
                  value={i.ImageId ?? ""}
                  checked={i.ImageId === imageId}
                  disabled={!avail}
                  onChange={() => setImageId(i.ImageId ?? "")}
                >
                  <span class="lw-option-title">
                    {imageLabel(i)}
                    {i.ImageOwnerAlias === "amazon" ? (
                      <span class="badge">Kumo</span>
                    ) : (
                      <span class="badge lw-badge-own">Mine</span>
                    )}
                    {!avail && <span class="badge spot">{i.State}</span>}
                  </span>
                  <span class="lw-option-sub mono">
                    {i.ImageId} · {i.Architecture ?? "—"}
                    {i.RootDeviceName ? ` · root ${rootSize(i)} GiB` : ""}
                  </span>
                  {i.Description && <span class="lw-option-desc">{i.Description}</span>}
                </Option>
              );
            })}
          </fieldset>
        </>
      )}
    </>
  );
}

export function typeStep(w: Wizard) {
  const {
    types, prices, type, setType, typeFilter, setTypeFilter, freeOnly, setFreeOnly, gpuOnly, setGpuOnly,
    price, free,
  } = w;
  const f = typeFilter.trim().toLowerCase();
  const list = (types.data ?? []).filter(
    (t) =>
      (!f || (t.InstanceType ?? "").includes(f) || gpuText(t).toLowerCase().includes(f)) &&
      (!freeOnly || free(t)) &&
      (!gpuOnly || (t.GpuInfo?.Gpus?.length ?? 0) > 0),
  );
  const anyGpu = types.data?.some((t) => (t.GpuInfo?.Gpus?.length ?? 0) > 0);
  return (
    <>
      <p class="lw-lead">How much CPU, memory and GPU the instance gets, and what it costs per hour.</p>
      <ErrorBox error={types.error} />
      {prices.data === null && (
        <p class="muted lw-note">Kumo did not say its prices just now, so they show as —.</p>
      )}
      {!types.data ? (
        <Loading what="instance types" />
      ) : (
        <>
          <div class="lw-filters">
            <input
              class="lw-search"
              type="search"
              aria-label="Search instance types"
              placeholder="Search instance types"
              value={typeFilter}
              onInput={(e) => setTypeFilter((e.target as HTMLInputElement).value)}
            />
            <label class="lw-check">
              <input type="checkbox" checked={freeOnly} onChange={(e) => setFreeOnly((e.target as HTMLInputElement).checked)} />
              Free tier only
            </label>
            {anyGpu && (
              <label class="lw-check">
                <input type="checkbox" checked={gpuOnly} onChange={(e) => setGpuOnly((e.target as HTMLInputElement).checked)} />
                GPU instances only
              </label>
            )}
          </div>
          <fieldset class="lw-types" aria-describedby="lw-types-cols">
            <legend class="sr-only">Instance type</legend>
            <div class="lw-type-head" id="lw-types-cols" aria-hidden="true">
              <span />
              <span>Type</span>
              <span class="num">vCPU</span>
              <span class="num">Memory</span>
              <span>GPUs</span>
              <span class="num">On-Demand</span>
            </div>
            {list.length === 0 && <p class="muted">No instance type matches.</p>}
            {list.map((t) => {
              const name = t.InstanceType ?? "";
              const p = price(name)?.hourly;
              const on = name === type;
              return (
                <label class={`lw-type ${on ? "on" : ""}`}>
                  <input type="radio" name="lw-type" value={name} checked={on} onChange={() => setType(name)} />
                  <span class="lw-type-name">
                    {name}
                    {free(t) && <span class="badge free">Free tier</span>}
                  </span>
                  <span class="num lw-vcpu">
                    {t.VCpuInfo?.DefaultVCpus ?? "—"}
                    <span class="lw-vunit"> vCPU</span>
                  </span>
                  <span class="num lw-mem">
                    {gib(t.MemoryInfo?.SizeInMiB)}
                    <span class="sr-only"> memory</span>
                  </span>
                  <span class={`lw-gpu ${gpuText(t) === "—" ? "muted" : ""}`}>
                    {gpuText(t) === "—" ? <span aria-label="no GPU">—</span> : gpuText(t)}
                  </span>
                  <span class="num lw-price">
                    {perHour(p)}
                    {p !== undefined && <span class="lw-unit">/h</span>}
                  </span>
                </label>
              );
            })}
          </fieldset>
        </>
      )}
    </>
  );
}

export function purchaseStep(w: Wizard) {
  const { type, market, setMarket, maxPrice, setMaxPrice, spot, od, zones, spotNow, maxPriceNum } = w;
  const below = maxPriceNum !== undefined && zones?.length ? zones.filter((z) => maxPriceNum < z.price) : [];
  return (
    <>
      <p class="lw-lead">
        Pay the On-Demand price, or bid for spare capacity at the spot price and accept that Kumo may reclaim it.
      </p>
      <fieldset class="lw-options lw-two">
        <legend class="sr-only">Purchase option</legend>
        <Option type="radio" name="lw-market" value="on-demand" checked={market === "on-demand"} onChange={() => setMarket("on-demand")}>
          <span class="lw-option-title">On-Demand</span>
          <span class="lw-option-desc">Pay by the hour at a fixed price; runs until you stop it.</span>
          <span class="lw-option-price">{hourly(od)}</span>
        </Option>
        <Option type="radio" name="lw-market" value="spot" checked={market === "spot"} onChange={() => setMarket("spot")}>
          <span class="lw-option-title">
            Spot <span class="badge spot">save</span>
          </span>
          <span class="lw-option-desc">Spare capacity at a lower, changing price. Kumo interrupts it when it needs the room back.</span>
          <span class="lw-option-price">
            {spotNow
              ? `now ${perHour(spotNow.price)}/h`
              : zones || (spot?.type === type && spot.error)
                ? "price not available"
                : "…"}
          </span>
        </Option>
      </fieldset>
      {market === "spot" && (
        <div class="lw-spot">
          <div class="lw-spot-input">
            <label class="field" for="lw-max-price">
              Max price (USD per hour)
              <span class="lw-money">
                <span aria-hidden="true">$</span>
                <input
                  id="lw-max-price"
                  inputMode="decimal"
                  autocomplete="off"
                  placeholder={od !== undefined ? `${od} (On-Demand)` : "On-Demand price"}
                  value={maxPrice}
                  aria-describedby="lw-max-price-hint lw-spot-now"
                  onInput={(e) => setMaxPrice((e.target as HTMLInputElement).value)}
                />
              </span>
            </label>
            <p class="hint" id="lw-max-price-hint">
              Leave empty to pay at most the On-Demand price{od !== undefined ? ` (${perHour(od)}/h)` : ""}, as on EC2.
              You pay the spot price, never more than this.
            </p>
          </div>
          <div class="lw-spot-now" id="lw-spot-now" aria-live="polite">
            {spot?.type === type && spot.error ? (
              <span class="muted">The current spot price is not available.</span>
            ) : !zones ? (
              <span class="muted">Looking up the current spot price…</span>
            ) : zones.length === 0 ? (
              <span class="muted">No spot price for {type} in this region.</span>
            ) : (
              <>
                <div>
                  current spot price <strong>{perHour(zones[0].price)}/h</strong> in {zones[0].az}
                </div>
                {od !== undefined && od > 0 && zones[0].price < od && (
                  <div class="lw-save">{Math.round((1 - zones[0].price / od) * 100)}% below On-Demand</div>
                )}
                {zones.length > 1 && (
                  <ul class="lw-zones">
                    {zones.slice(1).map((z) => (
                      <li>
                        {z.az}: {perHour(z.price)}/h
                      </li>
                    ))}
                  </ul>
                )}
              </>
            )}
          </div>
          {below.length > 0 && (
            <div class="warning lw-wide">
              {below.length === zones!.length
                ? `Your max price is below the current spot price in every zone: Kumo will refuse the launch (SpotMaxPriceTooLow).`
                : `Your max price is below the current spot price in ${below.map((z) => z.az).join(", ")}.`}
            </div>
          )}
          {maxPriceNum !== undefined && od !== undefined && maxPriceNum > od && (
            <div class="warning lw-wide">That is more than the On-Demand price ({perHour(od)}/h).</div>
          )}
        </div>
      )}
    </>
  );
}

export function storageStep(w: Wizard) {
  const { prices, size, setSize, setSizeTouched, image, minSize } = w;
  const gb = prices.data?.gbMonth.get("gp3");
  const n = Number(size);
  return (
    <>
      <p class="lw-lead">The root volume holds the operating system. It is an EBS volume deleted with the instance.</p>
      <div class="lw-storage">
        <label class="field" for="lw-root-size">
          Root volume size (GiB)
          <input
            id="lw-root-size"
            type="number"
            min={minSize}
            max={16384}
            step={1}
            inputMode="numeric"
            value={size}
            aria-describedby="lw-root-size-hint"
            onInput={(e) => {
              setSize((e.target as HTMLInputElement).value);
              setSizeTouched(true);
            }}
          />
        </label>
        <p class="hint" id="lw-root-size-hint">
          At least {minSize} GiB, the size of the image.
          {gb !== undefined && isFinite(n) && n > 0 ? ` About $${(gb * n).toFixed(2)} a month (${perHour(gb)}/GiB-month).` : ""}
        </p>
        <dl class="lw-facts">
          <div>
            <dt>Device</dt>
            <dd class="mono">{image?.RootDeviceName ?? "/dev/xvda"}</dd>
          </div>
          <div>
            <dt>Volume type</dt>
            <dd>General Purpose SSD (gp3)</dd>
          </div>
          <div>
            <dt>Delete on termination</dt>
            <dd>Yes</dd>
          </div>
        </dl>
      </div>
    </>
  );
}

export function tagsStep(w: Wizard) {
  const { tags, setTags } = w;
  const set = (i: number, patch: Partial<TagRow>) => setTags(tags.map((t, j) => (j === i ? { ...t, ...patch } : t)));
  return (
    <>
      <p class="lw-lead">Tags are labels for finding and grouping instances. The Name tag is what the console shows.</p>
      <div class="lw-tags">
        <label class="field lw-tag-name" for="lw-tag-name">
          Name
          <input
            id="lw-tag-name"
            placeholder="web-1"
            maxLength={256}
            value={tags[0].value}
            onInput={(e) => set(0, { value: (e.target as HTMLInputElement).value })}
          />
        </label>
        {tags.length > 1 && (
          <div class="lw-tag-cols" aria-hidden="true">
            <span>Key</span>
            <span>Value</span>
            <span />
          </div>
        )}
        {tags.slice(1).map((t, k) => {
          const i = k + 1;
          return (
            <div class="lw-tag-row" key={i}>
              <input
                aria-label={`Tag ${i + 1} key`}
                placeholder="Key"
                maxLength={128}
                value={t.key}
                onInput={(e) => set(i, { key: (e.target as HTMLInputElement).value })}
              />
              <input
                aria-label={`Tag ${i + 1} value`}
                placeholder="Value"
                maxLength={256}
                value={t.value}
                onInput={(e) => set(i, { value: (e.target as HTMLInputElement).value })}
              />
              <button
                type="button"
                class="link lw-remove"
                aria-label={`Remove tag ${i + 1}`}
                onClick={() => setTags(tags.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            </div>
          );
        })}
        <div>
          <button
            type="button"
            disabled={tags.length >= 50}
            onClick={() => {
              setTags([...tags, { key: "", value: "" }]);
              setTimeout(() => (document.querySelector(`[aria-label="Tag ${tags.length + 1} key"]`) as HTMLElement | null)?.focus(), 0);
            }}
          >
            + Add tag
          </button>
        </div>
      </div>
    </>
  );
}

export function groupStep(w: Wizard) {
  const {
    groups, mine, myIpLoading, sgMode, setSgMode, sgIds, setSgIds, sgName, setSgName, setSgNameTouched,
    sgDesc, setSgDesc, sshFrom, setSshFrom, sshCidr, setSshCidr,
  } = w;
  return (
    <>
      <p class="lw-lead">A security group is the instance's firewall: it decides who may connect to it.</p>
      <fieldset class="lw-options lw-two">
        <legend class="sr-only">Security group</legend>
        <Option type="radio" name="lw-sg-mode" value="new" checked={sgMode === "new"} onChange={() => setSgMode("new")}>
          <span class="lw-option-title">Create a new security group</span>
          <span class="lw-option-desc">With one rule: SSH (port 22) from the address you choose.</span>
        </Option>
        <Option type="radio" name="lw-sg-mode" value="existing" checked={sgMode === "existing"} onChange={() => setSgMode("existing")}>
          <span class="lw-option-title">Select existing security groups</span>
          <span class="lw-option-desc">Use groups you already have.</span>
        </Option>
      </fieldset>
      {sgMode === "new" ? (
        <div class="lw-sub">
          <div class="lw-grid2">
            <label class="field" for="lw-sg-name">
              Security group name
              <input
                id="lw-sg-name"
                value={sgName}
                maxLength={255}
                spellcheck={false}
                onInput={(e) => {
                  setSgName((e.target as HTMLInputElement).value);
                  setSgNameTouched(true);
                }}
              />
            </label>
            <label class="field" for="lw-sg-desc">
              Description
              <input id="lw-sg-desc" value={sgDesc} maxLength={255} onInput={(e) => setSgDesc((e.target as HTMLInputElement).value)} />
            </label>
          </div>
          <fieldset class="lw-options lw-compact">
            <legend>Allow SSH from</legend>
            <Option
              type="radio"
              name="lw-ssh"
              value="myip"
              checked={sshFrom === "myip"}
              disabled={!mine}
              onChange={() => setSshFrom("myip")}
            >
              <span class="lw-option-title">
                My IP <span class="mono lw-ip">{mine ?? (myIpLoading ? "looking up…" : "unknown")}</span>
              </span>
            </Option>
            <Option type="radio" name="lw-ssh" value="anywhere" checked={sshFrom === "anywhere"} onChange={() => setSshFrom("anywhere")}>
              <span class="lw-option-title">
                Anywhere <span class="mono lw-ip">0.0.0.0/0</span>
              </span>
            </Option>
            {!myIpLoading && !mine && (
              <Option type="radio" name="lw-ssh" value="custom" checked={sshFrom === "custom"} onChange={() => setSshFrom("custom")}>
                <span class="lw-option-title">Custom address range</span>
              </Option>
            )}
          </fieldset>
          {sshFrom === "custom" && (
            <label class="field lw-narrow" for="lw-ssh-cidr">
              SSH source CIDR
              <input
                id="lw-ssh-cidr"
                placeholder="203.0.113.7/32"
                spellcheck={false}
                value={sshCidr}
                onInput={(e) => setSshCidr((e.target as HTMLInputElement).value)}
              />
            </label>
          )}
          {!myIpLoading && !mine && (
            <p class="muted lw-note">Kumo could not tell this browser's address, so My IP is not available.</p>
          )}
          {sshFrom === "anywhere" && (
            <div class="warning" role="note">
              <strong>Anyone on the internet can try to log in.</strong> Rules that allow 0.0.0.0/0 let every address reach
              port 22. Choose My IP unless you need to connect from many places.
            </div>
          )}
        </div>
      ) : (
        <div class="lw-sub">
          <ErrorBox error={groups.error} />
          {!groups.data ? (
            <Loading what="security groups" />
          ) : (
            <fieldset class="lw-options lw-compact">
              <legend>Security groups</legend>
              {groups.data.length === 0 && <p class="muted">You have no security groups yet.</p>}
              {groups.data.map((g: SecurityGroup) => {
                const id = g.GroupId ?? "";
                const on = sgIds.includes(id);
                return (
                  <Option
                    type="checkbox"
                    name="lw-sg"
                    value={id}
                    checked={on}
                    onChange={() => setSgIds(on ? sgIds.filter((x) => x !== id) : [...sgIds, id])}
                  >
                    <span class="lw-option-title">
                      {g.GroupName} <span class="mono lw-ip">{id}</span>
                    </span>
                    {g.Description && <span class="lw-option-desc">{g.Description}</span>}
                  </Option>
                );
              })}
            </fieldset>
          )}
          {sgIds.length === 0 && groups.data && groups.data.length > 0 && (
            <p class="muted lw-note">None chosen: the instance gets its VPC's default security group.</p>
          )}
        </div>
      )}
    </>
  );
}

export function keyStep(w: Wizard) {
  const { keys, kpMode, setKpMode, keyName, setKeyName, justCreated, setJustCreated, session } = w;
  return (
    <>
      <p class="lw-lead">The key pair's public key is put on the instance so that you can log in with SSH.</p>
      <ErrorBox error={keys.error} />
      {justCreated && kpMode === "existing" && keyName === justCreated && (
        <div class="lw-created" role="status">
          <strong>✓ Key pair {justCreated} created</strong> and <code>{justCreated}.pem</code> downloaded. Protect it before
          using it: <code>chmod 400 {justCreated}.pem</code>
        </div>
      )}
      <fieldset class="lw-options">
        <legend class="sr-only">Key pair</legend>
        <Option
          type="radio"
          name="lw-kp"
          value="existing"
          checked={kpMode === "existing"}
          disabled={!keys.data?.length}
          onChange={() => setKpMode("existing")}
        >
          <span class="lw-option-title">Use an existing key pair</span>
          {!keys.data?.length && <span class="lw-option-desc">You have none yet.</span>}
        </Option>
        {kpMode === "existing" && !!keys.data?.length && (
          <label class="field lw-narrow lw-indent" for="lw-key-name">
            Existing key pair
            <select id="lw-key-name" value={keyName} onChange={(e) => setKeyName((e.target as HTMLSelectElement).value)}>
              {keys.data.map((k) => (
                <option value={k.KeyName}>
                  {k.KeyName} ({k.KeyType ?? "key"})
                </option>
              ))}
            </select>
          </label>
        )}
        <Option type="radio" name="lw-kp" value="create" checked={kpMode === "create"} onChange={() => setKpMode("create")}>
          <span class="lw-option-title">Create a new key pair</span>
          <span class="lw-option-desc">Its private key downloads at once as a .pem file.</span>
        </Option>
        {kpMode === "create" && (
          <div class="lw-indent lw-kp-create">
            <CreateKeyPairForm
              session={session}
              idPrefix="lw-kp"
              onCreated={(n) => {
                setJustCreated(n);
                setKeyName(n);
                setKpMode("existing");
                keys.reload();
              }}
            />
          </div>
        )}
        <Option type="radio" name="lw-kp" value="none" checked={kpMode === "none"} onChange={() => setKpMode("none")}>
          <span class="lw-option-title">Proceed without a key pair</span>
          <span class="lw-option-desc">Not recommended.</span>
        </Option>
      </fieldset>
      {kpMode === "none" && (
        <div class="warning" role="note">
          <strong>You will not be able to log in with SSH</strong> unless the image has another way in. A key pair cannot
          be added to an instance after launch.
        </div>
      )}
    </>
  );
}
