// A red-black tree as lib/rbtree.c keeps one: the caller walks it from the root and links a new node where its walk
// ended (rb_link_node), then __rb_insert recolours and rotates; rb_erase (__rb_erase_augmented, ____rb_erase_color)
// takes a node out. The shape after each insert and erase is the kernel's, which matters where a walk stops early
// at a node (KSM's unstable tree gives up at a node whose page is gone).

export interface RbNode<T> {
  readonly value: T;
  left: RbNode<T> | null;
  right: RbNode<T> | null;
  parent: RbNode<T> | null;
  red: boolean;
}

export class RbTree<T> {
  root: RbNode<T> | null = null;

  /** rb_link_node + rb_insert_color: a new node as `parent`'s left or right child (or the root), then rebalanced. */
  insert(value: T, parent: RbNode<T> | null, left: boolean): RbNode<T> {
    const node: RbNode<T> = { value, left: null, right: null, parent, red: true };
    if (!parent) this.root = node;
    else if (left) parent.left = node;
    else parent.right = node;
    this.insertColor(node);
    return node;
  }

  /** __rb_insert. */
  private insertColor(start: RbNode<T>): void {
    let node = start;
    for (;;) {
      const parent = node.parent;
      if (!parent) {
        node.red = false; // the root is black
        return;
      }
      if (!parent.red) return;
      const gparent = parent.parent!; // a red parent is never the root
      const parentIsLeft = gparent.left === parent;
      const uncle = parentIsLeft ? gparent.right : gparent.left;
      if (uncle?.red) {
        // case 1: flip colours and go on from the grandparent
        uncle.red = false;
        parent.red = false;
        gparent.red = true;
        node = gparent;
        continue;
      }
      let top = parent;
      if (parentIsLeft ? parent.right === node : parent.left === node) {
        // case 2: rotate at the parent, so that the node is on the grandparent's side
        this.rotate(parent, parentIsLeft);
        top = node;
      }
      // case 3: rotate at the grandparent
      this.rotate(gparent, !parentIsLeft);
      top.red = false;
      gparent.red = true;
      return;
    }
  }

  /** rb_erase. */
  erase(node: RbNode<T>): void {
    let rebalance: RbNode<T> | null = null;
    const wasRed = node.red;
    if (!node.left || !node.right) {
      const child = node.left ?? node.right;
      this.replace(node, child);
      if (child) {
        child.parent = node.parent;
        child.red = false; // one child: a red leaf (or, with no left child, at most a red right one) takes the black
      } else if (!wasRed) rebalance = node.parent;
    } else {
      // two children: the successor (leftmost of the right subtree) takes the node's place and colour
      let successor = node.right;
      while (successor.left) successor = successor.left;
      const child2 = successor.right;
      const successorWasRed = successor.red;
      let parent: RbNode<T>;
      if (successor === node.right) parent = successor;
      else {
        parent = successor.parent!;
        parent.left = child2;
        if (child2) child2.parent = parent;
        successor.right = node.right;
        node.right.parent = successor;
      }
      successor.left = node.left;
      node.left.parent = successor;
      this.replace(node, successor);
      successor.parent = node.parent;
      successor.red = wasRed;
      if (child2) {
        child2.parent = parent;
        child2.red = false;
      } else if (!successorWasRed) rebalance = parent;
    }
    if (rebalance) this.eraseColor(rebalance);
  }

  /** ____rb_erase_color: the subtree where `node` (null at first) sits under `parent` is one black short. */
  private eraseColor(start: RbNode<T>): void {
    let node: RbNode<T> | null = null;
    let parent: RbNode<T> | null = start;
    while (parent) {
      const nodeIsLeft = parent.left === node;
      let sibling = (nodeIsLeft ? parent.right : parent.left)!;
      if (sibling.red) {
        // case 1: rotate so that the sibling is black
        this.rotate(parent, nodeIsLeft);
        sibling.red = false;
        parent.red = true;
        sibling = (nodeIsLeft ? parent.right : parent.left)!;
      }
      const far = nodeIsLeft ? sibling.right : sibling.left;
      if (!far?.red) {
        const near = nodeIsLeft ? sibling.left : sibling.right;
        if (!near?.red) {
          // case 2: recolour the sibling red; the parent's subtree is now short, unless the parent was red
          sibling.red = true;
          if (parent.red) {
            parent.red = false;
            return;
          }
          node = parent;
          parent = node.parent;
          continue;
        }
        // case 3: rotate at the sibling, so that its far child is red (case 4 gives both their colours)
        this.rotate(sibling, !nodeIsLeft);
        sibling = near;
      }
      // case 4: rotate at the parent
      const farChild = (nodeIsLeft ? sibling.right : sibling.left)!;
      this.rotate(parent, nodeIsLeft);
      sibling.red = parent.red;
      parent.red = false;
      farChild.red = false;
      return;
    }
  }

  /** A rotation at `x`: left (its right child rises) or right (its left child rises). */
  private rotate(x: RbNode<T>, left: boolean): void {
    const y = (left ? x.right : x.left)!;
    const inner = left ? y.left : y.right;
    if (left) x.right = inner;
    else x.left = inner;
    if (inner) inner.parent = x;
    this.replace(x, y);
    y.parent = x.parent;
    if (left) y.left = x;
    else y.right = x;
    x.parent = y;
  }

  /** `node`'s parent (or the root) points at `by` instead. */
  private replace(node: RbNode<T>, by: RbNode<T> | null): void {
    const p = node.parent;
    if (!p) this.root = by;
    else if (p.left === node) p.left = by;
    else p.right = by;
  }
}
